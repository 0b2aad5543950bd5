//! How every subcommand of both binaries ends: one [`Exit`] (a code and the lines that say
//! why), made from whatever the subcommand produced, and left by one call,
//! [`Exit::leave`]. nextest's `ExpectedError::process_exit_code` is the model: the rule
//! lives next to the outcomes, not in the binaries.

use std::process::ExitCode;

use perf_core::record::{CapacityAnswer, RunResult};

use crate::{CapacityOutcome, GateDecision, GateOutcome, SuiteError, SuiteOutcome};

/// Exit codes shared by the binaries.
pub mod exit_codes {
    /// The run completed and nothing it checked failed (ci-gate: deploy).
    pub const OK: i32 = 0;
    /// The run completed but a check failed (ci-gate: blocked).
    pub const FAILED: i32 = 1;
    /// The run could not start or finish: bad arguments or config, unusable database or
    /// target, unwritable output.
    pub const COULD_NOT_RUN: i32 = 2;
    /// Interrupted by Ctrl-C or SIGTERM; the partial result was written.
    pub const INTERRUPTED: i32 = 130;
}

/// How a subcommand ends for a process: the exit code and the lines for stderr that say
/// why (`error: …`, `failed: …`, `interrupted: …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// One of [`exit_codes`].
    pub code: i32,
    /// Why, one line each; empty for a plain 0.
    pub lines: Vec<String>,
}

impl Exit {
    /// Exit 0 with nothing to say.
    pub fn ok() -> Self {
        Self {
            code: exit_codes::OK,
            lines: Vec::new(),
        }
    }

    /// Exit 2 with one line, printed as it is given.
    pub fn could_not_run(line: impl Into<String>) -> Self {
        Self {
            code: exit_codes::COULD_NOT_RUN,
            lines: vec![line.into()],
        }
    }

    /// Exit 130 with one line, printed as it is given.
    pub fn interrupted(line: impl Into<String>) -> Self {
        Self {
            code: exit_codes::INTERRUPTED,
            lines: vec![line.into()],
        }
    }

    /// Prints the lines to stderr and gives the process its code.
    pub fn leave(&self) -> ExitCode {
        for line in &self.lines {
            eprintln!("{line}");
        }
        ExitCode::from(u8::try_from(self.code).unwrap_or(1))
    }
}

impl From<&SuiteError> for Exit {
    /// 130 for [`SuiteError::Interrupted`], 2 for every other, with `error: …`.
    fn from(e: &SuiteError) -> Self {
        Self {
            code: e.exit_code(),
            lines: vec![format!("error: {e}")],
        }
    }
}

/// The exit code of a finished run, and why: interrupted (130), a failed check (1), or 0.
/// [`SuiteOutcome::exit`] adds the recorded problems (2) before it.
pub fn exit_code_of(result: &RunResult) -> (i32, Vec<String>) {
    let status = perf_report::overall_status(result);
    if result.interrupted {
        (
            exit_codes::INTERRUPTED,
            vec!["interrupted: the partial result covers what ran".to_owned()],
        )
    } else if status.status == perf_report::Status::Fail {
        (exit_codes::FAILED, status.reasons)
    } else {
        (exit_codes::OK, Vec::new())
    }
}

impl SuiteOutcome {
    /// The exit of a finished run or merge: a problem recorded on the way (the reports
    /// were written, part of the work was not done) is 2; then an interruption is 130, a
    /// failed check 1, and anything else 0.
    pub fn exit(&self) -> Exit {
        if !self.problems.is_empty() {
            return Exit {
                code: exit_codes::COULD_NOT_RUN,
                lines: self
                    .problems
                    .iter()
                    .map(|p| format!("error: {p}"))
                    .collect(),
            };
        }
        let (code, reasons) = exit_code_of(&self.result);
        let prefix = if code == exit_codes::FAILED {
            "failed: "
        } else {
            ""
        };
        Exit {
            code,
            lines: reasons
                .into_iter()
                .map(|r| format!("{prefix}{r}"))
                .collect(),
        }
    }
}

impl GateDecision {
    /// The process exit code.
    pub fn exit_code(self) -> i32 {
        match self {
            GateDecision::Deploy => exit_codes::OK,
            GateDecision::Blocked => exit_codes::FAILED,
            GateDecision::CouldNotRun => exit_codes::COULD_NOT_RUN,
            GateDecision::Interrupted => exit_codes::INTERRUPTED,
        }
    }
}

impl GateOutcome {
    /// The gate's exit: its decision's code and one line, `ci-gate: [could not run: ]why`.
    pub fn exit(&self) -> Exit {
        let code = self.decision.exit_code();
        let word = if code == exit_codes::COULD_NOT_RUN {
            "could not run: "
        } else {
            ""
        };
        Exit {
            code,
            lines: vec![format!("ci-gate: {word}{}", self.reason)],
        }
    }
}

impl CapacityOutcome {
    /// The search's exit: 130 when interrupted; 0 when a capacity was found; 1 when no
    /// rate meets the objectives or noise prevented a decision; 2 when nothing could be
    /// measured. The report says why, so no line is added.
    pub fn exit(&self) -> Exit {
        let code = if self.interrupted {
            exit_codes::INTERRUPTED
        } else {
            match self.report.answer {
                CapacityAnswer::Found { .. } => exit_codes::OK,
                CapacityAnswer::NoRateMeets { .. } | CapacityAnswer::Indeterminate { .. } => {
                    exit_codes::FAILED
                }
                CapacityAnswer::NotMeasured => exit_codes::COULD_NOT_RUN,
            }
        };
        Exit {
            code,
            lines: Vec::new(),
        }
    }
}
