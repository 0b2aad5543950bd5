//! How the suite sends the edge-case scenario: the health probes' control copies first,
//! then every hostile query and its probe as a pair on one virtual user, the configured
//! number of pairs at a time.

use perf_core::record::RunResult;
use perf_core::{LoadProfile, Query};
use perf_runner::{Plan, Runner};
use perf_synth::{EdgeStages, RobustnessReport, EDGE_PAIR_LEN};

use crate::{Config, SuiteError};

/// How the edge-case scenario runs, and how its robustness is judged.
///
/// The scenario's own load profile (one user) would send its queries one by one; with
/// chains of [`EDGE_PAIR_LEN`] the pairs run in parallel and each probe still goes out on
/// the user that sent its hostile query, right after the answer, so the run takes about
/// its total service time over `users`. The controls run as a plan of their own before
/// any hostile query, so every probe has an untouched reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EdgeCaseRun {
    /// Virtual users: pairs in flight at once.
    pub users: usize,
    /// Share of a class's queries that must go well for it to pass.
    pub threshold: f64,
}

impl EdgeCaseRun {
    /// The configured concurrency (`parallel_execution.max_concurrent`, one user when
    /// `parallel_execution.enabled` is false) and `synthetic_testing.robustness_threshold`.
    ///
    /// `rate_limit_per_second` does not apply: it paces the standard queries, and the edge
    /// cases never had it (their scenario's profile has no ceiling either).
    pub fn from_config(config: &Config) -> Self {
        Self {
            users: config.users(),
            threshold: config.synthetic_testing.robustness_threshold,
        }
    }

    /// Sends the edge-case scenario's `queries` into `result` (controls, then pairs) and
    /// judges robustness from every query's sample. A cancellation during the controls
    /// skips the pairs; the report then covers what ran.
    pub async fn run(
        &self,
        runner: &Runner,
        queries: &[Query],
        result: &mut RunResult,
    ) -> Result<RobustnessReport, SuiteError> {
        let EdgeStages { controls, pairs } = EdgeStages::split(queries);
        let load = LoadProfile::closed(self.users, None);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        if !controls.is_empty() {
            let plan = Plan::new(controls, load.clone()).with_sample_sink(tx.clone());
            runner.run(&plan, result).await?;
        }
        if !pairs.is_empty() && !result.interrupted {
            let plan = Plan::new(pairs, load)
                .with_chain(EDGE_PAIR_LEN)
                .with_sample_sink(tx);
            runner.run(&plan, result).await?;
        }
        // The runner sent every sample before `run` returned.
        let mut samples = Vec::with_capacity(queries.len());
        while let Ok(s) = rx.try_recv() {
            samples.push(s);
        }
        Ok(perf_synth::robustness_report(&samples, self.threshold))
    }
}
