//! The full performance suite as a library: the configuration users know from the
//! original suite, target selection, and the phased pipeline (content analysis, query
//! generation, synthetic scenarios, execution, baseline analysis, regression testing).
//!
//! The `orchestrator` and `ci-gate` binaries are thin shells over this crate: they parse
//! arguments, draw progress from [`SuiteEvent`]s and map [`SuiteError`]s to exit codes.
//! Harness authors can call [`run_suite`] directly.

mod config;
mod edge;
mod error;
mod gate;
mod pipeline;

pub use config::{
    Config, ParallelExecution, PerformanceBaselines, RefBotSettings, RegressionTesting,
    ResourceLimits, ResourceMonitoring, SyntheticTesting,
};
pub use edge::EdgeCaseRun;
pub use error::SuiteError;
pub use gate::{gate_checks, GateOptions, OnInconclusive, GATE_GROUP};
pub use pipeline::{
    run_suite, run_suite_then, save_baseline, PhaseEvent, SuiteEvent, SuiteOutcome,
    HARNESS_VERSION, PHASES,
};

/// The async runtime the binaries run the suite on: tokio's multi-thread runtime, or with
/// `single_thread` a current-thread one. One thread costs the least CPU per query for a bot
/// outside the process (HTTP or a command; measured in `docs/performance.md`), which matters
/// when the bot shares the machine; open-loop starts then follow tokio's 1 ms timer, and an
/// in-process bot gets one core.
pub fn runtime(single_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if single_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

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
