//! The bot's stderr: copied into a bounded log with its secrets removed, and read back
//! for error messages.

use super::*;

/// Bytes of the bot's stderr kept in the log file (all processes of a target together);
/// the rest is dropped and a note line says how much.
pub const MAX_STDERR_LOG_BYTES: u64 = 1024 * 1024;
/// Bytes of stderr read as one piece when the bot writes no newline.
const STDERR_CHUNK: usize = 64 * 1024;

/// The last few hundred bytes of the stderr log, for an error message.
pub(crate) fn log_tail(path: &Path) -> String {
    const TAIL: usize = 400;
    let Ok(bytes) = std::fs::read(path) else {
        return "(no stderr log)".to_owned();
    };
    let start = bytes.len().saturating_sub(TAIL);
    let text = String::from_utf8_lossy(&bytes[start..]);
    let text = text.trim();
    if text.is_empty() {
        "(empty)".to_owned()
    } else {
        text.replace('\n', " | ")
    }
}

/// Writes queued request lines to the bot's stdin, several per write when they queue up.
/// Ends (closing stdin) when the sender is dropped or the pipe breaks.
/// Copies the bot's stderr into the log with the target's secrets removed, keeping at most
/// [`MAX_STDERR_LOG_BYTES`] (shared by every process of the target, counted in `written`);
/// when this process's stderr ends, a note says how many bytes were dropped.
pub(crate) async fn copy_stderr(
    stderr: ChildStderr,
    mut log: std::fs::File,
    redactor: Redactor,
    written: Arc<AtomicU64>,
) {
    let mut reader = BufReader::new(stderr);
    let mut pending: Vec<u8> = Vec::new();
    let mut dropped: u64 = 0;
    let mut at_line_start = true;
    let keep_back = redactor.longest_bytes();
    loop {
        let limit = u64::try_from(STDERR_CHUNK).unwrap_or(u64::MAX);
        let n = (&mut reader)
            .take(limit)
            .read_until(b'\n', &mut pending)
            .await
            .unwrap_or_default();
        let done = n == 0;
        // Text without a newline yet: a secret may continue in the next piece, so its
        // possible start stays behind (on a character boundary) until then.
        let upto = if done || keep_back == 0 || pending.last() == Some(&b'\n') {
            pending.len()
        } else {
            let mut at = pending.len().saturating_sub(keep_back);
            while at > 0 && (pending[at] & 0xC0) == 0x80 {
                at -= 1;
            }
            at
        };
        if upto > 0 {
            let text = String::from_utf8_lossy(&pending[..upto]);
            let text = redactor.redact(&text);
            let bytes = text.as_bytes();
            let len = bytes.len() as u64;
            let used = written.load(Ordering::Relaxed);
            if used.saturating_add(len) <= MAX_STDERR_LOG_BYTES {
                written.fetch_add(len, Ordering::Relaxed);
                let _ = log.write_all(bytes);
                at_line_start = bytes.last() == Some(&b'\n');
            } else {
                dropped = dropped.saturating_add(upto as u64);
            }
            pending.drain(..upto);
        }
        if done {
            break;
        }
    }
    if dropped > 0 {
        let _ = writeln!(
            log,
            "{}--- perf-targets: {dropped} bytes of this process's stderr dropped: the log keeps at most {MAX_STDERR_LOG_BYTES} bytes ---",
            if at_line_start { "" } else { "\n" }
        );
    }
}
