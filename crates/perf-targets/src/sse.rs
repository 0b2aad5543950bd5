//! Server-sent events framing (the `text/event-stream` format), by hand: it is a few lines;
//! and [`StreamState`], what a streamed answer has brought so far.

use std::time::{Duration, Instant};

use perf_core::{BotResponse, TokenSource};
use serde_json::{json, Value};

/// Splits a byte stream into SSE events and hands out each event's `data`.
///
/// Lines end in `\n`, `\r\n` or `\r`; `data:` lines of one event are joined with `\n`; an
/// empty line ends the event; comments (`:`) and other fields are skipped.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    last_was_cr: bool,
}

impl SseParser {
    /// Feeds `bytes`, calling `on_event` with the data of every complete event. Stops
    /// early and returns `false` when `on_event` does.
    pub(crate) fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(&str) -> bool) -> bool {
        for &b in bytes {
            if self.last_was_cr {
                self.last_was_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' | b'\r' => {
                    self.last_was_cr = b == b'\r';
                    if !self.end_line(&mut on_event) {
                        return false;
                    }
                }
                _ => self.line.push(b),
            }
        }
        true
    }

    fn end_line(&mut self, on_event: &mut impl FnMut(&str) -> bool) -> bool {
        if self.line.is_empty() {
            return match self.data.take() {
                Some(data) => on_event(&data),
                None => true,
            };
        }
        let line = String::from_utf8_lossy(&self.line);
        let (field, value) = match line.find(':') {
            Some(0) => ("", ""),
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        self.line.clear();
        true
    }
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// What a streamed answer has brought so far: its tokens as they came (timed on our
/// clock), the text, the agents and any counts the server reported.
#[derive(Debug)]
pub(crate) struct StreamState {
    pub(crate) start: Instant,
    pub(crate) first: Option<Instant>,
    pub(crate) last: Option<Instant>,
    pub(crate) gaps_us: Vec<u64>,
    pub(crate) tokens: u64,
    pub(crate) events: u64,
    pub(crate) answer: String,
    pub(crate) agents: Vec<String>,
    pub(crate) prompt_tokens: Option<u64>,
    pub(crate) reported_completion_tokens: Option<u64>,
}

impl StreamState {
    pub(crate) fn new(start: Instant) -> Self {
        Self {
            start,
            first: None,
            last: None,
            gaps_us: Vec::new(),
            tokens: 0,
            events: 0,
            answer: String::new(),
            agents: Vec::new(),
            prompt_tokens: None,
            reported_completion_tokens: None,
        }
    }

    pub(crate) fn token(&mut self, now: Instant, delta: &str) {
        if self.first.is_none() {
            self.first = Some(now);
        }
        if let Some(last) = self.last {
            self.gaps_us
                .push(micros(now.saturating_duration_since(last)));
        }
        self.last = Some(now);
        self.tokens += 1;
        self.answer.push_str(delta);
    }

    pub(crate) fn finish(mut self, ttfb: Duration) -> BotResponse {
        let end = Instant::now();
        let total = end.saturating_duration_since(self.start);
        let ttft = self.first.map(|f| f.saturating_duration_since(self.start));
        let completion_tokens = self.reported_completion_tokens.unwrap_or(self.tokens);
        let decode = match (self.first, self.last) {
            (Some(f), Some(l)) if l > f => Some(l.saturating_duration_since(f)),
            _ => None,
        };
        let tokens_per_second = decode
            .filter(|_| completion_tokens > 1)
            .map(|d| (completion_tokens - 1) as f64 / d.as_secs_f64());
        let overall = if total.is_zero() {
            None
        } else {
            Some(completion_tokens as f64 / total.as_secs_f64())
        };
        self.gaps_us.sort_unstable();
        let inter_token = if self.gaps_us.is_empty() {
            Value::Null
        } else {
            let n = self.gaps_us.len();
            let pct = |p: f64| {
                let idx = ((p / 100.0) * n as f64).ceil() as usize;
                self.gaps_us[idx.clamp(1, n) - 1]
            };
            let sum: u64 = self.gaps_us.iter().sum();
            json!({
                "count": n,
                "mean": sum / n as u64,
                "min": self.gaps_us[0],
                "p50": pct(50.0),
                "p90": pct(90.0),
                "p99": pct(99.0),
                "max": self.gaps_us[n - 1],
            })
        };
        BotResponse {
            settle: None,
            answer: self.answer,
            agents: self.agents,
            time_to_first_token: ttft,
            time_to_last_token: self.last.map(|l| l.saturating_duration_since(self.start)),
            stream_chunks: Some(self.tokens),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: Some(completion_tokens),
            token_source: Some(if self.reported_completion_tokens.is_some() {
                TokenSource::Reported
            } else {
                TokenSource::CountedChunks
            }),
            metadata: json!({"stream": {
                "ttfb_us": micros(ttfb),
                "ttft_us": ttft.map(micros),
                "duration_us": micros(total),
                "events": self.events,
                "content_events": self.tokens,
                "tokens": completion_tokens,
                "tokens_reported": self.reported_completion_tokens.is_some(),
                "inter_token_us": inter_token,
                "tokens_per_second": tokens_per_second,
                "tokens_per_second_overall": overall,
            }}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |d| {
                out.push(d.to_owned());
                true
            });
        }
        out
    }

    #[test]
    fn frames_events_across_chunks_and_line_endings() {
        assert_eq!(
            events(&[
                b"data: a\n\nda",
                b"ta: b\r\n",
                b"data:c\r\n\r\n: comment\n\nevent: x\r",
                b"\rdata: [DONE]\n\n"
            ]),
            ["a", "b\nc", "[DONE]"]
        );
        assert_eq!(events(&[b"data: unterminated"]), Vec::<String>::new());
    }

    #[test]
    fn stops_when_asked() {
        let mut p = SseParser::default();
        let mut n = 0;
        let finished = p.feed(b"data: 1\n\ndata: 2\n\n", |_| {
            n += 1;
            false
        });
        assert!(!finished);
        assert_eq!(n, 1);
    }
}
