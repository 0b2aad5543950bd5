//! The JSON-lines wire: request lines out, answer and delta lines in, matched to their
//! queries by id.

use super::*;

/// Most tokens an answer line may report; the runner rejects larger counts too, as no
/// answer can have them.
const MAX_REPORTED_TOKENS: u64 = 10_000_000;

/// One request line sent to the bot.
#[derive(Debug, Serialize)]
pub(super) struct RequestLine<'a> {
    pub(super) id: &'a str,
    pub(super) query: &'a str,
    pub(super) user_id: Option<&'a str>,
    pub(super) channel: Option<&'a str>,
}

/// One line read from the bot: an answer, or (with `delta`) a piece of a streamed answer.
/// Unknown fields are allowed: bots add their own.
#[derive(Debug, Deserialize)]
pub(super) struct ResponseLine {
    pub(super) id: String,
    /// A piece of the answer text, streamed before the answer line.
    #[serde(default)]
    pub(super) delta: Option<Value>,
    /// Tokens in the answer, as the bot counts them.
    #[serde(default)]
    pub(super) tokens: Option<Value>,
    /// OpenAI-style usage; `completion_tokens` is read when `tokens` is absent.
    #[serde(default)]
    pub(super) usage: Option<Value>,
    #[serde(default)]
    pub(super) answer: Option<String>,
    #[serde(default)]
    pub(super) agent: Option<String>,
    #[serde(default)]
    pub(super) agents: Option<Vec<String>>,
    #[serde(default)]
    pub(super) error: Option<String>,
    #[serde(default)]
    pub(super) metadata: Option<Value>,
}

pub(super) type Reply = Result<(ResponseLine, Deltas), TargetError>;

/// The streamed pieces of one answer so far, timed on our clock when their line is read.
#[derive(Debug, Default)]
pub(super) struct Deltas {
    pub(super) first: Option<Instant>,
    pub(super) last: Option<Instant>,
    pub(super) count: u64,
    /// The pieces joined, up to the line size limit.
    pub(super) text: String,
    /// The pieces did not fit under the line size limit; `text` stopped growing.
    pub(super) truncated: bool,
}

impl Deltas {
    pub(super) fn push(&mut self, now: Instant, piece: &str, limit: usize) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.count = self.count.saturating_add(1);
        if self.truncated || self.text.len().saturating_add(piece.len()) > limit {
            self.truncated = true;
        } else {
            self.text.push_str(piece);
        }
    }
}

pub(super) async fn read_answers(
    proc: &Proc,
    stdout: ChildStdout,
    counters: &Counters,
    max_line: usize,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(max_line)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        match (&mut reader).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.len() > max_line && line.last() != Some(&b'\n') {
            counters.invalid_lines.fetch_add(1, Ordering::Relaxed);
            if !skip_line(&mut reader).await {
                return;
            }
            continue;
        }
        handle_line(proc, &line, counters, max_line);
    }
}

/// Discards the rest of an overlong line; `false` at end of stream.
pub(super) async fn skip_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> bool {
    loop {
        let buf = match reader.fill_buf().await {
            Ok([]) | Err(_) => return false,
            Ok(buf) => buf,
        };
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return true;
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

pub(super) fn handle_line(proc: &Proc, line: &[u8], counters: &Counters, max_text: usize) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    if proc.capturing.load(Ordering::Relaxed) {
        let mut kept = proc.captured.lock().unwrap_or_else(PoisonError::into_inner);
        // Bounded: the answer line and a few delta lines are what an inspection shows.
        if kept.len() < 64 {
            kept.push(line[..line.len().min(2 * crate::INSPECT_BODY_BYTES)].to_vec());
        }
    }
    let now = Instant::now();
    let parsed: Result<ResponseLine, _> = serde_json::from_slice(line).or_else(|e| {
        // Python's json writes a lone surrogate as `\ud800`; serde_json rejects it in a
        // string. Such a line is the bot's answer all the same, with U+FFFD in its place.
        match replace_lone_surrogates(line) {
            Some(fixed) => serde_json::from_slice(&fixed),
            None => Err(e),
        }
    });
    let (id, reply) = match parsed {
        Ok(mut answer) => match answer.delta.take() {
            Some(delta) => {
                on_delta(proc, &answer.id, delta, now, counters, max_text);
                return;
            }
            None => (answer.id.clone(), Ok(answer)),
        },
        Err(e) => {
            // A JSON object with a string id but a bad shape still fails its own query.
            let id = serde_json::from_slice::<Value>(line)
                .ok()
                .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
            match id {
                Some(id) => (
                    id,
                    Err(TargetError::invalid_response(format!(
                        "bad answer line: {e}"
                    ))),
                ),
                None => {
                    counters.invalid_lines.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            }
        }
    };
    let waiter = proc.pending().finish(&id);
    match waiter {
        Some(w) => {
            let _ = w.tx.send(reply.map(|line| (line, w.deltas)));
        }
        None => {
            counters.unknown_ids.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `line` with every `\uXXXX` escape of a lone surrogate (one not part of a high-low
/// pair) replaced by `\ufffd`; `None` when there is none.
pub(super) fn replace_lone_surrogates(line: &[u8]) -> Option<Vec<u8>> {
    fn escape_at(b: &[u8], i: usize) -> Option<u16> {
        let hex = b.get(i..i + 6)?;
        if hex[0] != b'\\' || hex[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&hex[2..]).ok()?, 16).ok()
    }
    let mut out = Vec::with_capacity(line.len());
    let mut changed = false;
    let mut i = 0;
    while i < line.len() {
        if line[i] != b'\\' {
            out.push(line[i]);
            i += 1;
            continue;
        }
        match escape_at(line, i) {
            Some(0xD800..=0xDBFF) if matches!(escape_at(line, i + 6), Some(0xDC00..=0xDFFF)) => {
                out.extend_from_slice(&line[i..i + 12]);
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                out.extend_from_slice(b"\\ufffd");
                changed = true;
                i += 6;
            }
            _ => {
                // Any other escape (`\\`, `\"`, `\u0041`) is copied as it is, both bytes at
                // once so an escaped backslash never starts an escape.
                out.extend_from_slice(&line[i..(i + 2).min(line.len())]);
                i += 2;
            }
        }
    }
    changed.then_some(out)
}

/// Records one delta line. A delta that is not a string fails its query; an empty one is
/// no text, so it is not counted.
pub(super) fn on_delta(
    proc: &Proc,
    id: &str,
    delta: Value,
    now: Instant,
    counters: &Counters,
    max_text: usize,
) {
    let mut p = proc.pending();
    let Some(waiter) = p.waiting.get_mut(id) else {
        counters.stray_deltas.fetch_add(1, Ordering::Relaxed);
        return;
    };
    match delta {
        Value::String(piece) if piece.is_empty() => {}
        Value::String(piece) => waiter.deltas.push(now, &piece, max_text),
        other => {
            let kind = json_kind(&other);
            if let Some(w) = p.finish(id) {
                let _ = w.tx.send(Err(TargetError::invalid_response(format!(
                    "a delta line's `delta` must be a string, got {kind}"
                ))));
            }
        }
    }
}

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The token count an answer line reports (`tokens`, else `usage.completion_tokens`):
/// a whole number up to [`MAX_REPORTED_TOKENS`], or an error naming the field.
pub(super) fn reported_tokens(line: &ResponseLine) -> Result<Option<u64>, TargetError> {
    let (field, value) = match (&line.tokens, &line.usage) {
        (Some(v), _) if !v.is_null() => ("tokens", v),
        (_, Some(usage)) if !usage.is_null() => {
            let Some(usage) = usage.as_object() else {
                return Err(TargetError::invalid_response(format!(
                    "the answer line's `usage` must be an object, got {}",
                    json_kind(usage)
                )));
            };
            match usage.get("completion_tokens") {
                Some(v) if !v.is_null() => ("usage.completion_tokens", v),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    match value.as_u64() {
        Some(n) if n <= MAX_REPORTED_TOKENS => Ok(Some(n)),
        _ => Err(TargetError::invalid_response(format!(
            "the answer line's `{field}` must be a whole number from 0 to {MAX_REPORTED_TOKENS}, got {value}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(s: &str) -> Option<String> {
        replace_lone_surrogates(s.as_bytes()).map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            fixed(r#"{"a":"x\ud800y"}"#).as_deref(),
            Some(r#"{"a":"x\ufffdy"}"#)
        );
        assert_eq!(
            fixed(r#"{"a":"\udc00"}"#).as_deref(),
            Some(r#"{"a":"\ufffd"}"#)
        );
        // A pair is kept; an escaped backslash does not start an escape.
        assert_eq!(fixed(r#"{"a":"\ud83e\udd80 \\ud800"}"#), None);
        assert_eq!(
            fixed(r#"{"a":"\ud83e\udd80\ud800"}"#).as_deref(),
            Some(r#"{"a":"\ud83e\udd80\ufffd"}"#)
        );
        let line = replace_lone_surrogates(br#"{"a":"x\ud800"}"#).unwrap_or_default();
        let v: Value = serde_json::from_slice(&line).unwrap_or_default();
        assert_eq!(v["a"], "x\u{fffd}");
    }
}
