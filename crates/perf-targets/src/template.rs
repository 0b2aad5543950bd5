//! JSON body templates: placeholders are replaced in the parsed value, never in text.

use perf_core::Query;
use serde_json::Value;

/// The placeholder replaced by the query text.
pub const QUERY: &str = "{{query}}";
/// The placeholder replaced by the query id.
pub const ID: &str = "{{id}}";
/// The placeholder replaced by the user id, or `null`.
pub const USER_ID: &str = "{{user_id}}";
/// The placeholder replaced by the channel, or `null`.
pub const CHANNEL: &str = "{{channel}}";

/// `template` with every string leaf that is exactly a placeholder replaced by the query's
/// value. Strings that merely contain a placeholder are left alone, and object keys are
/// never replaced, so no query text can change the shape of the body.
pub fn fill(template: &Value, query: &Query) -> Value {
    match template {
        Value::String(s) => match s.as_str() {
            QUERY => Value::String(query.text.clone()),
            ID => Value::String(query.id.clone()),
            USER_ID => opt(&query.user_id),
            CHANNEL => opt(&query.channel),
            _ => template.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, query)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, query)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) => template.clone(),
    }
}

fn opt(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |s| Value::String(s.clone()))
}

/// Whether `template` contains a string leaf that is exactly [`QUERY`].
pub(crate) fn mentions_query(template: &Value) -> bool {
    match template {
        Value::String(s) => s == QUERY,
        Value::Array(items) => items.iter().any(mentions_query),
        Value::Object(map) => map.values().any(mentions_query),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hostile_text_stays_a_string() {
        let mut q = Query::new("q-1", "\"}, \"admin\": true, {\"x\": \"{{id}}", "edge");
        q.user_id = Some("u\n1".to_owned());
        let t = json!({"query": "{{query}}", "meta": {"id": "{{id}}", "u": ["{{user_id}}"],
            "c": "{{channel}}", "n": 3, "keep": "say {{query}}", "{{query}}": "k"}});
        let body = fill(&t, &q);
        assert_eq!(body["query"], json!(q.text));
        assert_eq!(body["meta"]["id"], json!("q-1"));
        assert_eq!(body["meta"]["u"][0], json!("u\n1"));
        assert_eq!(body["meta"]["c"], Value::Null);
        assert_eq!(body["meta"]["n"], json!(3));
        assert_eq!(body["meta"]["keep"], json!("say {{query}}"));
        assert_eq!(body["meta"]["{{query}}"], json!("k"));
        assert!(body.get("admin").is_none());
        let round: Value = serde_json::from_str(&body.to_string()).unwrap_or_default();
        assert_eq!(round, body);
    }

    #[test]
    fn finds_the_query_placeholder() {
        assert!(mentions_query(&json!({"m": [{"content": "{{query}}"}]})));
        assert!(!mentions_query(&json!({"m": "{{id}}"})));
    }
}
