//! JSON pointers (RFC 6901), parsed once at setup instead of on every answer.

use std::borrow::Cow;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
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

    /// The value its tokens after the first `depth` point to in `value` (a value found
    /// at that depth).
    fn get_below<'a>(&self, depth: usize, mut value: &'a Value) -> Option<&'a Value> {
        for token in self.tokens.get(depth..)? {
            value = match value {
                Value::Object(map) => map.get(token)?,
                Value::Array(items) => items.get(index(token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }
}

/// Looks up several pointers in one pass over a JSON text, building a [`Value`] only for
/// what a pointer reaches: the rest is checked for syntax and skipped. For a bot's answer
/// with metadata this costs a fraction of parsing the whole answer into a `Value`.
#[derive(Debug, Clone)]
pub(crate) struct Extractor {
    pointers: Vec<Pointer>,
}

impl Extractor {
    /// An extractor for `pointers`; [`Extractor::extract`] answers in the same order.
    pub(crate) fn new(pointers: Vec<Pointer>) -> Self {
        Self { pointers }
    }

    /// The value at each pointer in `json` (`None` where there is none). The whole text
    /// must be JSON: a syntax error anywhere is an error, as for `serde_json::from_slice`.
    pub(crate) fn extract(&self, json: &[u8]) -> serde_json::Result<Vec<Option<Value>>> {
        let mut out = vec![None; self.pointers.len()];
        let active: Vec<usize> = (0..self.pointers.len()).collect();
        let mut de = serde_json::Deserializer::from_slice(json);
        Seek {
            pointers: &self.pointers,
            active: &active,
            depth: 0,
            out: &mut out,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(out)
    }
}

/// The pointers (`active`, indexes into `pointers`) whose first `depth` tokens lead to the
/// value about to be read.
struct Seek<'a> {
    pointers: &'a [Pointer],
    active: &'a [usize],
    depth: usize,
    out: &'a mut [Option<Value>],
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.active.is_empty() {
            IgnoredAny::deserialize(d)?;
            return Ok(());
        }
        let depth = self.depth;
        if self
            .active
            .iter()
            .any(|&i| self.pointers[i].tokens.len() == depth)
        {
            // A pointer ends here: the value is wanted whole; deeper ones look inside it.
            let value = Value::deserialize(d)?;
            for &i in self.active {
                self.out[i] = self.pointers[i].get_below(depth, &value).cloned();
            }
            return Ok(());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut next = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            next.clear();
            next.extend(
                self.active
                    .iter()
                    .copied()
                    .filter(|&i| self.pointers[i].tokens[self.depth] == *key),
            );
            map.next_value_seed(Seek {
                pointers: self.pointers,
                active: &next,
                depth: self.depth + 1,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut next = Vec::new();
        let mut at = 0usize;
        loop {
            next.clear();
            next.extend(
                self.active
                    .iter()
                    .copied()
                    .filter(|&i| index(&self.pointers[i].tokens[self.depth]) == Some(at)),
            );
            let seek = Seek {
                pointers: self.pointers,
                active: &next,
                depth: self.depth + 1,
                out: &mut *self.out,
            };
            if seq.next_element_seed(seek)?.is_none() {
                return Ok(());
            }
            at += 1;
        }
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
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

    /// Pointers that reach into, past and around the texts below: escapes, indexes with
    /// leading zeros, `-`, missing keys, the whole document.
    const POINTERS: &[&str] = &[
        "",
        "/a",
        "/a/b~1c",
        "/a/b~1c/1/d~0e",
        "/",
        "/n/01",
        "/n/1",
        "/n/2/1",
        "/n/-",
        "/zz",
        "/a/b~1c/9",
        "/answer",
        "/metadata/agents_used",
        "/metadata/agents_used/1",
        "/kay/deep/2",
        "/usage",
        "/usage/prompt_tokens",
        "/0/a",
        "/1",
        "/s",
    ];

    #[test]
    fn agrees_with_serde_json() {
        let v = json!({"a": {"b/c": [1, {"d~e": "x"}]}, "": 5, "n": [0, 1, [2]], "kay": {}});
        for p in POINTERS {
            let parsed = Pointer::parse(p);
            assert_eq!(
                parsed.as_ref().and_then(|ptr| ptr.get_below(0, &v)),
                v.pointer(p),
                "{p}"
            );
        }
        assert!(Pointer::parse("answer").is_none());
    }

    #[test]
    fn extraction_agrees_with_parsing_the_whole_text() {
        let texts = [
            r#"{"a": {"b/c": [1, {"d~e": "x"}]}, "": 5, "n": [0, 1, [2, 3]], "s": "t\"q"}"#,
            r#"{"answer": "hi", "answer": "last wins", "metadata": {"agents_used": ["x", "y"]}}"#,
            r#"{"k\u0061y": {"deep": [true, null, 1.5, -3]}, "usage": {"prompt_tokens": 7}}"#,
            r#"[{"a": 1}, {"a": 2}]"#,
            r#""just a string""#,
            "3",
        ];
        let parsed: Vec<Pointer> = POINTERS.iter().filter_map(|p| Pointer::parse(p)).collect();
        let extractor = Extractor::new(parsed.clone());
        for text in texts {
            let whole: Value = serde_json::from_str(text).unwrap_or_default();
            let got = extractor.extract(text.as_bytes()).unwrap_or_default();
            assert_eq!(got.len(), parsed.len());
            for (p, got) in parsed.iter().zip(&got) {
                assert_eq!(
                    got.as_ref(),
                    p.get_below(0, &whole),
                    "{text} at {}",
                    p.as_str()
                );
            }
        }
    }

    #[test]
    fn extraction_rejects_what_is_not_json() {
        let extractor = Extractor::new(vec![
            Pointer::parse("/answer").unwrap_or_else(|| unreachable!())
        ]);
        for bad in [
            "<html>oops</html>",
            r#"{"answer": "cut"#,
            r#"{"answer": "ok"} trailing"#,
            r#"{"other": [1, 2,], "answer": "x"}"#,
            r#"{"answer": "x", "other": {"a" 1}}"#,
            "",
        ] {
            assert!(extractor.extract(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            extractor.extract(br#" {"answer": "ok"} "#).ok(),
            Some(vec![Some(Value::String("ok".to_owned()))])
        );
    }
}
