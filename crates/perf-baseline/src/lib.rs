//! Named baselines, regression verdicts that hold up on noisy machines, run history and
//! trends.
//!
//! - [`BaselineStore`] keeps `baselines/<name>.json` files ([`Baseline`]): summary
//!   figures and full latency histograms per key, an [`EnvironmentFingerprint`] and a
//!   config digest, written atomically.
//! - [`compare`] turns a baseline and a [`perf_core::record::RunResult`] into a
//!   [`perf_core::record::Comparison`]: per metric and key a verdict (pass, regression,
//!   improvement, inconclusive) with the change, its interval, a p-value and the smallest
//!   change the data could detect. The decision rule and its evaluation are in
//!   `docs/regression-detection.md`.
//! - [`check_against_baseline`] is the orchestrator's phase 5 in one call (missing
//!   baselines, auto-update); [`critical_path_checks`] is phase 6.
//! - [`History`] records every run in SQLite (the default) or in a PostgreSQL database
//!   shared by many machines ([`HistoryLocation`]) and finds where lasting shifts began
//!   ([`analyze_trend`]).
//!
//! Nothing here prints; binaries own the terminal. Depended on by `perf-suite` and by
//! harness authors who keep baselines of their own runs.
//!
//! # Example: a baseline, then a run 50% slower
//!
//! ```
//! use perf_baseline::{compare, Baseline, CompareOptions, EnvironmentFingerprint, Thresholds};
//! use perf_core::{Outcome, Sample, TargetInfo};
//! use perf_core::record::{RunResult, Verdict};
//!
//! fn run(id: &str, latency_ms: u64) -> RunResult {
//!     let mut r = RunResult::new(id, "2026-01-01T00:00:00Z", TargetInfo::default());
//!     for i in 0..400u64 {
//!         // A spread of answer times around `latency_ms`.
//!         let us = latency_ms * 1_000 + (i * 7_919) % (latency_ms * 200);
//!         r.record(&Sample::new(format!("q{i}"), "standard", "search", Outcome::Ok, us));
//!     }
//!     r.wall_time_s = 40.0;
//!     r
//! }
//!
//! let env = EnvironmentFingerprint::detect(&TargetInfo::default(), "docs");
//! let baseline = Baseline::from_run("main", &run("base", 100), env.clone());
//! let same = compare(&baseline, &run("same", 100), &env, &Thresholds::default(), &CompareOptions::default())?;
//! assert_ne!(same.overall, Verdict::Regression);
//! let slower = compare(&baseline, &run("slow", 150), &env, &Thresholds::default(), &CompareOptions::default())?;
//! assert_eq!(slower.overall, Verdict::Regression);
//! # Ok::<(), perf_baseline::BaselineError>(())
//! ```

mod baseline;
mod compare;
mod critical;
mod error;
mod history;
mod location;
mod policy;
mod predict;
#[doc(hidden)]
pub mod sim;
mod stats;
mod thresholds;
mod time;
mod trend;

pub use baseline::{
    config_digest, describe_capacity, describe_target, parse_baseline, target_key, Baseline,
    BaselineCapacity, BaselineEntry, BaselineGroup, BaselineStore, EnvironmentFingerprint,
    ReadingStats, ResourceStats, WriteMode, BASELINE_FORMAT_VERSION, MAX_BASELINE_FILE_BYTES,
};
pub use compare::{compare, compare_baselines};
pub use critical::{critical_path_checks, CriticalPathLimits};
pub use error::BaselineError;
pub use history::{History, RunRecord, STREAMING_TREND_METRICS, TREND_METRICS};
pub use location::{HistoryLocation, PostgresUrl};
pub use policy::{
    check_against_baseline, create_command, refuse_other_target, BaselineAction, BaselineOutcome,
    BaselinePolicy, MissingBaseline, UpdatePolicy,
};
pub use predict::{
    fit_slots, fit_usl, forecast_crossing, forecast_trends, TrendObjective, MIN_FORECAST_RUNS,
    MIN_USL_POINTS,
};
pub use thresholds::{
    AgentThresholds, CompareOptions, Thresholds, DEFAULT_CAPACITY_DROP, LATENCY_METRICS,
    STREAMING_METRICS,
};
pub use trend::{analyze_trend, change_point, estimate_run_noise, TrendOptions};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    /// Fails to compile if a public type stops being `Send + Sync`.
    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<BaselineError>();
        assert_send_sync::<Baseline>();
        assert_send_sync::<BaselineStore>();
        assert_send_sync::<History>();
        assert_send_sync::<HistoryLocation>();
        assert_send_sync::<Thresholds>();
        assert_send_sync::<CompareOptions>();
        assert_send_sync::<BaselinePolicy>();
        assert_send_sync::<BaselineOutcome>();
        assert_send_sync::<CriticalPathLimits>();
        assert_send_sync::<TrendOptions>();
    }
}
