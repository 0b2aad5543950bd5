//! The end every run and every merge share, so the rule "a broken history or baseline
//! loses nothing" is written once: the run history (a failure becomes a problem and a note,
//! never a lost run), the caller's last additions, then every report, then the outcome
//! whose [`SuiteOutcome::exit`] is the process's exit rule.

use perf_core::RunResult;
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
