//! Server-sent events framing (the `text/event-stream` format), by hand: it is a few lines.

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
