//! Strict files: the document's shape, and every key checked against the known ones (an
//! unknown key is named with where it is and the closest known key).

use super::*;

/// Rejects a document or section of the wrong JSON shape before serde reads it: the
/// document and every section must be objects (serde would read an array by position).
pub(super) fn check_shape(value: &serde_json::Value) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Err(format!(
            "the configuration must be a JSON object (`{{...}}` with keys such as \"query_count\"), not {}",
            json_kind(value)
        ));
    };
    let known = serde_json::to_value(every_key()).unwrap_or_default();
    check_sections(obj, &known, "")
}

/// Every key whose default is an object must be an object (or null, which serde reports
/// on its own) in the document too.
pub(super) fn check_sections(
    obj: &serde_json::Map<String, serde_json::Value>,
    known: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    for (key, v) in obj {
        let Some(k) = known.get(key).filter(|k| k.is_object()) else {
            continue;
        };
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match v {
            serde_json::Value::Object(inner) => check_sections(inner, k, &path)?,
            serde_json::Value::Null => {}
            other => {
                return Err(format!(
                    "`{path}` must be an object (`{{...}}`), not {}",
                    json_kind(other)
                ))
            }
        }
    }
    Ok(())
}

pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A history location's error as a configuration error naming the key.
pub(super) fn config_error(e: perf_baseline::BaselineError) -> perf_core::ConfigError {
    match e {
        perf_baseline::BaselineError::InvalidConfig { key, message } => {
            perf_core::ConfigError::new(key, message)
        }
        other => perf_core::ConfigError::new("history_url", other.to_string()),
    }
}

/// Finds the first key of `value` that `known` does not have, and names its closest
/// sibling.
pub(super) fn check_keys(
    value: &serde_json::Value,
    known: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    let (Some(obj), Some(known_obj)) = (value.as_object(), known.as_object()) else {
        return Ok(());
    };
    if SERDE_CHECKED.contains(&at) {
        return Ok(());
    }
    for (k, v) in obj {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match known_obj.get(k) {
            Some(kv) => check_keys(v, kv, &path)?,
            None => {
                let place = if at.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in `{at}`")
                };
                let hint = perf_core::closest_match(k, known_obj.keys().map(String::as_str))
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        let mut keys: Vec<&str> = known_obj.keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        format!("; known keys there: {}", keys.join(", "))
                    });
                return Err(format!("unknown key `{path}` {place}{hint}"));
            }
        }
    }
    Ok(())
}
