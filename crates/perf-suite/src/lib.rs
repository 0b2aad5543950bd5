//! The full performance suite as a library: the configuration users know from the
//! original suite, target selection, and the phased pipeline (content analysis, query
//! generation, synthetic scenarios, execution, baseline analysis, regression testing).
//!
//! The `orchestrator` and `ci-gate` binaries are thin shells over this crate: they parse
//! arguments, draw progress from [`SuiteEvent`]s and map [`SuiteError`]s to exit codes.
//! Harness authors can call [`run_suite`] directly.

mod capacity;
mod config;
mod distributed;
mod edge;
mod error;
mod exit;
mod gate;
mod gate_run;
mod grounding;
mod merge;
mod overrides;
mod pipeline;
mod questions;
mod session;
mod tester;

pub use capacity::{
    capacity_baseline_check, capacity_check, capacity_search, knee, probe_rate, run_capacity,
    search as search_capacity, CapacityEvent, CapacityOutcome, CapacityRequest, ProbeAttempt,
    ProbeConfig, ProbeMode, ProbeSpec, SearchOutcome, SearchSettings, CAPACITY_BASELINE_CHECK,
    DEFAULT_SUCCESS_RATE, MAX_SWEEP_LEVELS,
};
pub use config::{
    Config, ParallelExecution, PerformanceBaselines, RefBotSettings, RegressionTesting,
    ResourceLimits, ResourceMonitoring, SyntheticTesting, MAX_CONCURRENT, MAX_CONFIG_FILE_BYTES,
    MAX_GRACE_PERIOD_S, MAX_MONITORING_INTERVAL_S, MAX_PACED_RUN_S, MAX_QUERY_COUNT,
    MAX_QUERY_TIMEOUT_S, MAX_RATE_PER_SECOND, MIN_MONITORING_INTERVAL_S, MIN_QUERY_TIMEOUT_S,
    MIN_RATE_PER_SECOND,
};
pub use distributed::{config_digest, host_name, parse_start_at, ShardRequest, MAX_START_AHEAD};
pub use edge::EdgeCaseRun;
pub use error::SuiteError;
pub use exit::{exit_code_of, exit_codes, Exit};
pub use gate::{
    gate_checks, resources_measured, GateOptions, OnInconclusive, GATE_GROUP, RESOURCE_CHECK,
};
pub use gate_run::{
    append_github_step_summary, cancel_on_signals, decide as gate_decision, run_gate, Budget,
    GateDecision, GateOutcome, GateRequest, MAX_GATE_BUDGET, MIN_GATE_BUDGET,
};
pub use grounding::{
    Grounding, GroundingDecision, AGENT_ROUTING_CHECK, CALIBRATION_QUERIES, GROUNDED_FACTS_CHECK,
};
pub use merge::{
    check_figures, find_shard_reports, merge_and_report, merge_gate, merge_run_id, merge_shards,
    merge_shards_until, read_shard_header, read_shard_report, shard_histogram_budget, ShardHeader,
    MAX_SHARD_GROUPS, MAX_SHARD_REPORT_BYTES, SHARDS_CHECK,
};
pub use overrides::{Overrides, Pacing};
/// The suite's events live in `perf-core`, so observers need not depend on the suite.
pub use perf_core::event::{PhaseEvent, SuiteEvent};
/// Re-exported for the binaries' own argument checks.
pub use perf_core::ConfigError;
pub use pipeline::{
    preflight, run_suite, run_suite_amending, run_suite_with_end_grace, save_baseline,
    SuiteOutcome, HARNESS_VERSION, PHASES,
};
pub use questions::SAME_FAILURE_WINDOW;
pub use tester::PerfTester;

/// Which async runtime the binaries run the suite on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeChoice {
    /// A current-thread runtime for a bot outside the process (HTTP or `cmd:`), the
    /// multi-thread runtime for the in-process reference bot.
    #[default]
    Auto,
    /// tokio's multi-thread runtime (one worker per core).
    MultiThread,
    /// A current-thread runtime.
    CurrentThread,
}

impl RuntimeChoice {
    /// Whether the suite runs on one thread for `target`.
    ///
    /// One thread costs the least CPU per query for a bot outside the process, which
    /// matters when the bot shares the machine (measured in `docs/performance.md`:
    /// `compare.sh`); open-loop starts then follow tokio's 1 ms timer, which is below the
    /// 2 ms at which a start counts as late. An in-process bot does its work on the
    /// runtime's threads, so it gets every core.
    pub fn single_thread(self, target: &perf_targets::TargetSpec) -> bool {
        match self {
            RuntimeChoice::Auto => !matches!(target, perf_targets::TargetSpec::Refbot),
            RuntimeChoice::MultiThread => false,
            RuntimeChoice::CurrentThread => true,
        }
    }
}

/// The async runtime the binaries run the suite on: a current-thread one with
/// `single_thread`, tokio's multi-thread runtime otherwise (see
/// [`RuntimeChoice::single_thread`] for which to pick).
pub fn runtime(single_thread: bool) -> std::io::Result<tokio::runtime::Runtime> {
    if single_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    }
}

#[cfg(test)]
mod runtime_tests {
    use super::*;
    use perf_targets::TargetSpec;

    #[test]
    fn auto_runs_out_of_process_bots_on_one_thread_and_the_refbot_on_all() {
        let http = TargetSpec::parse_flag("http://127.0.0.1:9/query").unwrap();
        let cmd = TargetSpec::parse_flag("cmd:python3 bot.py").unwrap();
        assert!(RuntimeChoice::Auto.single_thread(&http));
        assert!(RuntimeChoice::Auto.single_thread(&cmd));
        assert!(!RuntimeChoice::Auto.single_thread(&TargetSpec::Refbot));
        assert!(!RuntimeChoice::MultiThread.single_thread(&http));
        assert!(RuntimeChoice::CurrentThread.single_thread(&TargetSpec::Refbot));
    }
}
