use serde::{Deserialize, Serialize};

use crate::BotResponse;

/// Text that betrays an internal error leaking into an answer: database errors, stack
/// traces and panics from common bot stacks. Matched case-insensitively.
const INTERNAL_ERROR_MARKERS: &[&str] = &[
    "traceback (most recent call last)",
    "panicked at",
    "stack backtrace",
    "sqlite error",
    "sqlite3.operationalerror",
    "operationalerror",
    "syntax error near",
    "near \"",
    "no such column",
    "no such table",
    "unrecognized token",
    "sqlstate",
    "error returned from database",
    "exception in thread",
    "nullreferenceexception",
    "at line ",
];

/// Text that betrays a disclosed system prompt or secret. Matched case-insensitively.
const DEFAULT_SECRET_MARKERS: &[&str] = &[
    "my system prompt is",
    "system prompt:",
    "you are a helpful",
    "begin system prompt",
    "api_key",
];

/// A property a correct, graceful answer has. Attached to queries by generators and
/// checked by the runner against every answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Expectation {
    /// The answer mentions `text` (case-insensitive): a fact the generator knows from the data.
    AnswerContains {
        /// The text to find.
        text: String,
    },
    /// The answer mentions at least one of `any_of` (case-insensitive).
    AnswerContainsAny {
        /// Candidate texts.
        any_of: Vec<String>,
    },
    /// The answer is not empty or whitespace.
    AnswerNotEmpty,
    /// The answer does not repeat `payload` verbatim (an unescaped script or markup echo).
    NoUnescapedEcho {
        /// The hostile text that must not come back as-is.
        payload: String,
    },
    /// The answer contains no internal error text (SQL errors, stack traces, panics).
    NoInternalErrorLeak,
    /// The answer discloses no system prompt or secret; `markers` are extra canaries.
    NoSecretDisclosure {
        /// Extra canary strings whose presence means a leak.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        markers: Vec<String>,
    },
    /// The answer matches a regular expression (the `regex` crate's syntax, case-sensitive
    /// unless the pattern says `(?i)`), searched anywhere in the answer.
    AnswerRegex {
        /// The pattern, checked when it is read (a bad pattern is refused there).
        pattern: AnswerPattern,
    },
    /// The answer is JSON in which `pointer` (RFC 6901, `/a/0/b`) resolves, to `value` when
    /// one is given.
    AnswerJson {
        /// Where in the answer's JSON to look.
        pointer: String,
        /// The value expected there; absent (or `null`) accepts any value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<serde_json::Value>,
    },
}

/// The longest regular expression accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 10_000;
/// The most memory one compiled regular expression may take, bytes (1 MiB): a pattern
/// such as `(a{1000}){1000}` is refused instead of compiled.
const MAX_PATTERN_COMPILED_BYTES: usize = 1 << 20;

/// A regular expression for [`Expectation::AnswerRegex`]: compiled once when it is made or
/// read, serialized as its source text. Compared by its source.
#[derive(Clone)]
pub struct AnswerPattern {
    source: String,
    compiled: regex::Regex,
}

impl AnswerPattern {
    /// Compiles `source`; the error says why it is not a pattern (syntax, or larger than
    /// [`MAX_PATTERN_BYTES`] or the compiled-size limit).
    pub fn new(source: impl Into<String>) -> Result<Self, String> {
        let source = source.into();
        if source.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "the pattern is {} bytes, more than the {MAX_PATTERN_BYTES} allowed",
                source.len()
            ));
        }
        let compiled = regex::RegexBuilder::new(&source)
            .size_limit(MAX_PATTERN_COMPILED_BYTES)
            .dfa_size_limit(MAX_PATTERN_COMPILED_BYTES)
            .build()
            .map_err(|e| match e {
                regex::Error::CompiledTooBig(limit) => format!(
                    "the pattern compiles to more than {limit} bytes; use a simpler pattern"
                ),
                // The syntax error is several lines (the pattern, a caret, the reason).
                other => format!(
                    "not a valid regular expression: {}",
                    other
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("syntax error")
                        .trim()
                ),
            })?;
        Ok(Self { source, compiled })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

impl std::fmt::Debug for AnswerPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnswerPattern({:?})", self.source)
    }
}

impl PartialEq for AnswerPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for AnswerPattern {}

impl Serialize for AnswerPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for AnswerPattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        AnswerPattern::new(source).map_err(serde::de::Error::custom)
    }
}

impl Expectation {
    /// A short stable name for reports (`answer_contains`, `no_unescaped_echo`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Expectation::AnswerContains { .. } => "answer_contains",
            Expectation::AnswerContainsAny { .. } => "answer_contains_any",
            Expectation::AnswerNotEmpty => "answer_not_empty",
            Expectation::NoUnescapedEcho { .. } => "no_unescaped_echo",
            Expectation::NoInternalErrorLeak => "no_internal_error_leak",
            Expectation::NoSecretDisclosure { .. } => "no_secret_disclosure",
            Expectation::AnswerRegex { .. } => "answer_regex",
            Expectation::AnswerJson { .. } => "answer_json",
        }
    }

    /// Checks the expectation against a response.
    pub fn check(&self, response: &BotResponse) -> Result<(), ExpectationFailure> {
        let answer = response.answer.to_lowercase();
        let fail = |detail: String| {
            Err(ExpectationFailure {
                expectation: self.name().to_owned(),
                detail,
            })
        };
        match self {
            Expectation::AnswerContains { text } => {
                if answer.contains(&text.to_lowercase()) {
                    Ok(())
                } else {
                    fail(format!("answer does not mention {text:?}"))
                }
            }
            Expectation::AnswerContainsAny { any_of } => {
                if any_of.iter().any(|t| answer.contains(&t.to_lowercase())) {
                    Ok(())
                } else {
                    fail(format!("answer mentions none of {any_of:?}"))
                }
            }
            Expectation::AnswerNotEmpty => {
                if answer.trim().is_empty() {
                    fail("answer is empty".to_owned())
                } else {
                    Ok(())
                }
            }
            Expectation::NoUnescapedEcho { payload } => {
                let p = payload.to_lowercase();
                if !p.trim().is_empty() && answer.contains(&p) {
                    fail(format!("answer echoes the payload {payload:?} unescaped"))
                } else {
                    Ok(())
                }
            }
            Expectation::NoInternalErrorLeak => {
                match INTERNAL_ERROR_MARKERS.iter().find(|m| answer.contains(*m)) {
                    Some(m) => fail(format!("answer leaks internal error text ({m:?})")),
                    None => Ok(()),
                }
            }
            Expectation::NoSecretDisclosure { markers } => {
                let hit = DEFAULT_SECRET_MARKERS
                    .iter()
                    .map(|m| (*m).to_owned())
                    .chain(markers.iter().map(|m| m.to_lowercase()))
                    .find(|m| !m.is_empty() && answer.contains(m.as_str()));
                match hit {
                    Some(m) => fail(format!("answer discloses a secret ({m:?})")),
                    None => Ok(()),
                }
            }
            Expectation::AnswerRegex { pattern } => {
                if pattern.is_match(&response.answer) {
                    Ok(())
                } else {
                    fail(format!(
                        "answer does not match the pattern {:?}",
                        pattern.as_str()
                    ))
                }
            }
            Expectation::AnswerJson { pointer, value } => {
                let Ok(doc) = serde_json::from_str::<serde_json::Value>(&response.answer) else {
                    return fail(format!(
                        "answer is not JSON, so {pointer:?} cannot be looked up"
                    ));
                };
                match (doc.pointer(pointer), value) {
                    (None, _) => fail(format!("{pointer:?} does not resolve in the answer's JSON")),
                    (Some(_), None | Some(serde_json::Value::Null)) => Ok(()),
                    (Some(found), Some(want)) if found == want => Ok(()),
                    (Some(found), Some(want)) => {
                        let mut shown = found.to_string();
                        if shown.len() > 200 {
                            let cut = (0..=200)
                                .rev()
                                .find(|&i| shown.is_char_boundary(i))
                                .unwrap_or(0);
                            shown.truncate(cut);
                            shown.push('…');
                        }
                        fail(format!("{pointer:?} is {shown}, not {want}"))
                    }
                }
            }
        }
    }
}

/// Why an answer did not meet an expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectationFailure {
    /// The expectation's name.
    pub expectation: String,
    /// What was wrong.
    pub detail: String,
}

/// Checks every expectation and returns the failures (empty when all hold).
pub fn check_expectations(
    expectations: &[Expectation],
    response: &BotResponse,
) -> Vec<ExpectationFailure> {
    expectations
        .iter()
        .filter_map(|e| e.check(response).err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: Expectation, answer: &str, ok: bool) {
        let r = BotResponse::new(answer, "x");
        assert_eq!(e.check(&r).is_ok(), ok, "{e:?} on {answer:?}");
    }

    #[test]
    fn expectations_hold_and_fail_as_documented() {
        let contains = Expectation::AnswerContains {
            text: "General".into(),
        };
        check(contains.clone(), "the busiest is #general", true);
        check(contains, "the busiest is #random", false);
        let any = Expectation::AnswerContainsAny {
            any_of: vec!["a1".into(), "b2".into()],
        };
        check(any.clone(), "found B2", true);
        check(any, "found c3", false);
        check(Expectation::AnswerNotEmpty, " \n", false);
        check(Expectation::AnswerNotEmpty, "x", true);
        let echo = Expectation::NoUnescapedEcho {
            payload: "<script>alert(1)</script>".into(),
        };
        check(echo.clone(), "you said <script>alert(1)</script>", false);
        check(echo, "you said &lt;script&gt;alert(1)&lt;/script&gt;", true);
        check(
            Expectation::NoInternalErrorLeak,
            "sqlite error: near \"DROP\": syntax error",
            false,
        );
        check(Expectation::NoInternalErrorLeak, "no messages found", true);
        let secret = Expectation::NoSecretDisclosure {
            markers: vec!["CANARY-123".into()],
        };
        check(secret.clone(), "the canary-123 token", false);
        check(secret.clone(), "System prompt: you are", false);
        check(secret, "I can't share that", true);
    }

    #[test]
    fn regex_and_json_expectations_hold_and_fail_as_documented() {
        let re = |p: &str| Expectation::AnswerRegex {
            pattern: AnswerPattern::new(p).unwrap(),
        };
        check(re(r"order #\d{4}"), "your order #1234 ships", true);
        check(re(r"order #\d{4}"), "your ORDER #12 ships", false);
        check(re(r"(?i)^ORDER"), "order placed", true);
        let json = |p: &str, v: Option<serde_json::Value>| Expectation::AnswerJson {
            pointer: p.into(),
            value: v,
        };
        check(json("/status", None), r#"{"status": "ok"}"#, true);
        check(
            json("/status", Some("ok".into())),
            r#"{"status": "ok"}"#,
            true,
        );
        check(
            json("/status", Some("ok".into())),
            r#"{"status": "no"}"#,
            false,
        );
        check(json("/items/1", None), r#"{"items": [1]}"#, false);
        check(json("/items/0", Some(1.into())), r#"{"items": [1]}"#, true);
        check(json("", None), "not json", false);
        check(json("nope", None), r#"{"a": 1}"#, false);
        // A long value is cut in the message, never at a char boundary's expense.
        let long = format!(r#"{{"a": "{}"}}"#, "é".repeat(500));
        let f = json("/a", Some("x".into()))
            .check(&BotResponse::new(long, "x"))
            .unwrap_err();
        assert!(
            f.detail.len() < 400 && f.detail.contains("not \"x\""),
            "{}",
            f.detail
        );
    }

    #[test]
    fn patterns_are_checked_when_read_and_round_trip_as_text() {
        let e = AnswerPattern::new("(unclosed").unwrap_err();
        assert!(e.contains("not a valid regular expression"), "{e}");
        let e = AnswerPattern::new("x".repeat(MAX_PATTERN_BYTES + 1)).unwrap_err();
        assert!(e.contains("10000"), "{e}");
        let e = AnswerPattern::new("(a{1000}){1000}").unwrap_err();
        assert!(e.contains("simpler pattern"), "{e}");
        let x: Expectation =
            serde_json::from_str(r#"{"type": "answer_regex", "pattern": "a+b"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&x).unwrap(),
            r#"{"type":"answer_regex","pattern":"a+b"}"#
        );
        let e = serde_json::from_str::<Expectation>(r#"{"type": "answer_regex", "pattern": "("}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a valid regular expression"), "{e}");
        let j: Expectation =
            serde_json::from_str(r#"{"type": "answer_json", "pointer": "/a", "value": [1]}"#)
                .unwrap();
        assert_eq!(j.name(), "answer_json");
    }

    #[test]
    fn failures_are_collected_with_names() {
        let r = BotResponse::new("", "x");
        let f = check_expectations(
            &[
                Expectation::AnswerNotEmpty,
                Expectation::NoInternalErrorLeak,
            ],
            &r,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].expectation, "answer_not_empty");
    }
}
