//! One query, shown whole: what was sent and what came back, for `orchestrator
//! check-target` (issue #22). Every text here has passed the target's redactor.

use std::time::Duration;

use perf_core::Query;
use serde_json::Value;

use crate::Target;

/// Bytes of a response body (or answer line) kept in an [`Inspection`].
pub const INSPECT_BODY_BYTES: usize = 2048;

/// What one query to a target sent and received, redacted: no auth token, secret header
/// or secret environment value appears in any field.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Inspection {
    /// `POST http://host/path` for HTTP (query values redacted), `stdin of <command>` for a
    /// child process.
    pub request_line: String,
    /// Request headers, secret values replaced by `[redacted]`.
    pub request_headers: Vec<(String, String)>,
    /// The request body (HTTP) or the JSON line written to stdin (child process).
    pub request_body: String,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
    /// Response headers, values of secret-named ones replaced.
    pub response_headers: Vec<(String, String)>,
    /// The first [`INSPECT_BODY_BYTES`] bytes of the body (HTTP) or of the answer line
    /// (child process), as text.
    pub response_body: String,
    /// Bytes of the body read in all (HTTP).
    pub response_bytes: usize,
    /// Whether the answer came as server-sent events (or delta lines).
    pub streamed: bool,
    /// The pointer the answer is read from (HTTP), e.g. `/answer`.
    pub answer_pointer: Option<String>,
    /// The answer as the run would read it, or why it could not be read.
    pub answer: Result<String, String>,
    /// Each agent pointer and what it resolved to (`None`: nothing there).
    pub agents: Vec<(String, Option<String>)>,
    /// When the answer did not resolve: the pointer of the longest string in the JSON,
    /// with the start of that string.
    pub suggestion: Option<(String, String)>,
}

impl Default for Inspection {
    fn default() -> Self {
        Self {
            request_line: String::new(),
            request_headers: Vec::new(),
            request_body: String::new(),
            status: None,
            response_headers: Vec::new(),
            response_body: String::new(),
            response_bytes: 0,
            streamed: false,
            answer_pointer: None,
            answer: Err("no answer".to_owned()),
            agents: Vec::new(),
            suggestion: None,
        }
    }
}

impl Inspection {
    /// Whether the answer resolved: the check passes.
    pub fn answered(&self) -> bool {
        self.answer.is_ok()
    }
}

/// Sends `query` to `target` once and reports the exchange; `timeout` bounds it (the
/// target's own timeout applies too; the shorter wins). The target is initialized first
/// (a child process is started) and not shut down: call `bot().shutdown()` after.
pub async fn inspect(target: &Target, query: &Query, timeout: Duration) -> Inspection {
    match target {
        Target::Http(h) => h.inspect(query, timeout).await,
        Target::Command(c) => c.inspect(query, timeout).await,
        Target::Discord(d) => d.inspect(query, timeout).await,
    }
}

/// Escapes one JSON-pointer token (RFC 6901: `~` as `~0`, `/` as `~1`).
fn escape_token(t: &str) -> String {
    t.replace('~', "~0").replace('/', "~1")
}

/// The pointer of the longest string value in `v` and the string, if any.
pub fn longest_string(v: &Value) -> Option<(String, String)> {
    fn walk(v: &Value, at: &mut String, best: &mut Option<(String, String)>, depth: usize) {
        if depth > 128 {
            return;
        }
        match v {
            Value::String(s) if best.as_ref().is_none_or(|(_, b)| s.len() > b.len()) => {
                *best = Some((at.clone(), s.clone()));
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(x, at, best, depth + 1);
                    at.truncate(len);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&escape_token(k));
                    walk(x, at, best, depth + 1);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(v, &mut String::new(), &mut best, 0);
    best
}

/// The first `max` bytes of `bytes` as text (cut at a character boundary).
pub(crate) fn start_of(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

/// A JSON value shown in one line, cut to 200 characters.
pub(crate) fn shown(v: &Value) -> String {
    let s = match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    perf_core::cut(&s, 200).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_string_is_found_with_an_escaped_pointer() {
        let v: Value = serde_json::from_str(
            r#"{"id": "x", "data": {"a/b": [1, "the longest text of all"], "m~": "short"}}"#,
        )
        .unwrap();
        let (p, s) = longest_string(&v).unwrap();
        assert_eq!(p, "/data/a~1b/1");
        assert_eq!(s, "the longest text of all");
        assert_eq!(v.pointer(&p).and_then(Value::as_str), Some(s.as_str()));
        assert_eq!(longest_string(&serde_json::json!([1, 2])), None);
    }
}
