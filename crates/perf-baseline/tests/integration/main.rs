//! Integration tests of perf-baseline: real files, a real SQLite database, and the
//! evaluation of the verdicts on simulated runs.

mod baseline_files;
mod history;
mod quality;
mod verdicts;

use perf_baseline::sim::SimulatedRun;
use perf_baseline::EnvironmentFingerprint;
use perf_core::record::RunResult;
use perf_core::SplitMix64;

/// A run of `queries` reference-bot queries slowed by `factor`.
pub(crate) fn run(seed: u64, queries: usize, factor: f64) -> RunResult {
    SimulatedRun {
        queries,
        latency_factor: factor,
        ..SimulatedRun::default()
    }
    .draw(&format!("run-{seed}"), &mut SplitMix64::new(seed))
}

/// A fixed fingerprint, so tests do not depend on the machine.
pub(crate) fn env() -> EnvironmentFingerprint {
    EnvironmentFingerprint {
        os: "linux".into(),
        arch: "x86_64".into(),
        cpu_model: "Test CPU".into(),
        cores: 2,
        harness_version: "0.1.0".into(),
        target: "refbot 0.1.0 (in_process)".into(),
        target_key: "refbot (in_process)".into(),
        git_commit: Some("0123abc".into()),
    }
}

/// A run of `queries` reference-bot queries whose answers stream with a median time to
/// first token of `ttft_ms` (latency itself unchanged).
pub(crate) fn streaming_run(seed: u64, queries: usize, ttft_ms: f64) -> RunResult {
    SimulatedRun {
        queries,
        ttft_ms: Some(ttft_ms),
        ..SimulatedRun::default()
    }
    .draw(&format!("run-{seed}"), &mut SplitMix64::new(seed))
}

/// The PostgreSQL server of the `postgres-tests` feature: the history tests again, and
/// the ones only a server can answer.
#[cfg(feature = "postgres-tests")]
mod postgres_server;
