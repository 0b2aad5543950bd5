//! The end every run and every merge share, so the rule "a broken history or baseline
//! loses nothing" is written once: the run history (a failure becomes a problem and a note,
//! never a lost run), the caller's last additions, then every report, then the outcome
//! whose [`SuiteOutcome::exit`] is the process's exit rule.

use chrono::{DateTime, Utc};
use perf_core::record::RunResult;
use tokio_util::sync::CancellationToken;

use crate::{Config, SuiteError, SuiteOutcome};

/// Records `result` in the run history when `record`, applies `before_reports`, writes
/// every report and returns the outcome with `problems` (those found on the way and a
/// history that could not be updated). With `cancel`, Ctrl-C while the history is written
/// leaves the run unrecorded and marked interrupted, the reports still written.
pub(crate) async fn finish(
    config: &Config,
    mut result: RunResult,
    mut problems: Vec<String>,
    record: bool,
    cancel: Option<&CancellationToken>,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    if record {
        let never = CancellationToken::new();
        let cancel = cancel.unwrap_or(&never);
        tokio::select! {
            recorded = crate::pipeline::record_history(config, &mut result) => {
                if let Err(e) = recorded {
                    let message = format!("run history not updated: {e}");
                    result.notes.push(message.clone());
                    problems.push(message);
                }
            }
            () = cancel.cancelled() => {
                result.interrupted = true;
                result
                    .notes
                    .push("interrupted while recording the run history: not recorded".to_owned());
            }
        }
    }
    before_reports(&mut result);
    let reports = perf_report::write_run_reports(&result, &config.output_dir)?;
    Ok(SuiteOutcome {
        result,
        reports,
        problems,
    })
}

/// A run id for a run, a capacity search or a merge started at `at`: the time, then
/// `kind` (`""`, `"capacity-"` before the time, `"merged-N-"` after it), then `digits` hex
/// digits of a random part seeded from the start's nanoseconds, the process id and a
/// counter. Jobs in containers often share a small process id and shards started together
/// share the second, while a shared history keys runs by id (a taken id is refused, never
/// overwritten).
pub(crate) fn run_id(at: DateTime<Utc>, prefix: &str, infix: &str, digits: u32) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = (at.timestamp_nanos_opt().unwrap_or(0) as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let random = perf_core::SplitMix64::new(seed).next_u64() & ((1u64 << (4 * digits)) - 1);
    format!(
        "{prefix}{}-{infix}{random:0width$x}",
        at.format("%Y%m%dT%H%M%SZ"),
        width = digits as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_keep_their_shapes_and_never_repeat_within_one_second() {
        let at = Utc::now();
        let ids: std::collections::HashSet<String> =
            (0..200).map(|_| run_id(at, "", "", 4)).collect();
        // 200 draws of 16 bits: a repeat is possible, but not a constant id.
        assert!(ids.len() > 190, "{}", ids.len());
        let id = run_id(at, "capacity-", "", 4);
        assert!(id.starts_with("capacity-") && id.len() == "capacity-".len() + 16 + 1 + 4);
        let id = run_id(at, "", "merged-4-", 6);
        let (time, rest) = id.split_once('-').unwrap();
        assert_eq!(time.len(), 16);
        assert!(rest.starts_with("merged-4-") && rest.len() == "merged-4-".len() + 6);
    }
}
