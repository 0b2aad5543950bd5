//! JSON pointers (RFC 6901), parsed once at setup instead of on every answer.

use serde_json::Value;

/// A parsed JSON pointer such as `/metadata/agents_used/0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pointer {
    text: String,
    tokens: Vec<String>,
}

impl Pointer {
    /// Parses `text`; `None` unless it is empty or starts with `/`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self {
                text: String::new(),
                tokens: Vec::new(),
            });
        }
        let rest = text.strip_prefix('/')?;
        let tokens = rest
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Some(Self {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The value it points to in `value`.
    pub(crate) fn get<'a>(&self, mut value: &'a Value) -> Option<&'a Value> {
        for token in &self.tokens {
            value = match value {
                Value::Object(map) => map.get(token)?,
                Value::Array(items) => items.get(index(token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// The value it points to in `value`, mutably.
    pub(crate) fn get_mut<'a>(&self, mut value: &'a mut Value) -> Option<&'a mut Value> {
        for token in &self.tokens {
            value = match value {
                Value::Object(map) => map.get_mut(token)?,
                Value::Array(items) => items.get_mut(index(token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// An array index as RFC 6901 allows it: digits, no leading zero.
fn index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agrees_with_serde_json() {
        let v = json!({"a": {"b/c": [1, {"d~e": "x"}]}, "": 5, "n": [0, 1]});
        for p in [
            "",
            "/a",
            "/a/b~1c",
            "/a/b~1c/1/d~0e",
            "/",
            "/n/01",
            "/n/1",
            "/n/-",
            "/zz",
            "/a/b~1c/9",
        ] {
            let parsed = Pointer::parse(p);
            assert_eq!(
                parsed.as_ref().and_then(|ptr| ptr.get(&v)),
                v.pointer(p),
                "{p}"
            );
        }
        assert!(Pointer::parse("answer").is_none());
        let mut m = v.clone();
        if let Some(x) = Pointer::parse("/n/0").and_then(|p| p.get_mut(&mut m).map(|x| x.take())) {
            assert_eq!(x, json!(0));
        }
        assert_eq!(m["n"][0], Value::Null);
    }
}
