//! The original suite's three calls, for a harness of one's own.

use std::path::PathBuf;
use std::sync::Arc;

use perf_baseline::{BaselineStore, CompareOptions, EnvironmentFingerprint, Thresholds, WriteMode};
use perf_core::record::{Comparison, RunResult};
use perf_core::{BotTarget, LoadProfile, Query};
use perf_runner::{Plan, Runner, RunnerConfig};

use crate::{SuiteError, HARNESS_VERSION};

/// A bot and a baselines directory: the original suite's `run_parallel_queries`,
/// `create_performance_baseline` and `run_regression_tests`, each one call.
///
/// ```
/// # use std::sync::Arc;
/// # use perf_core::{async_trait, BotResponse, BotTarget, Query, TargetError};
/// # struct MyBot;
/// # #[async_trait]
/// # impl BotTarget for MyBot {
/// #     async fn execute(&self, q: &Query) -> Result<BotResponse, TargetError> {
/// #         Ok(BotResponse::new(format!("re: {}", q.text), "semantic_search"))
/// #     }
/// #     fn redactor(&self) -> perf_core::Redactor { perf_core::Redactor::default() }
/// # }
/// # let dir = tempfile::tempdir().unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use perf_suite::PerfTester;
///
/// let queries: Vec<Query> = (0..40).map(|i| Query::new(format!("q{i}"), "hello", "search")).collect();
/// let tester = PerfTester::new(Arc::new(MyBot)).with_baselines_dir(dir.path());
/// let run = tester.run_parallel_queries(queries.clone(), 5, Some(100.0)).await?;
/// tester.create_performance_baseline("main", &run)?;
/// let again = tester.run_parallel_queries(queries, 5, Some(100.0)).await?;
/// let comparison = tester.run_regression_tests(&again, "main")?;
/// println!("{:?}: {} verdicts", comparison.overall, comparison.verdicts.len());
/// # Ok::<(), perf_suite::SuiteError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct PerfTester {
    target: Arc<dyn BotTarget>,
    baselines_dir: PathBuf,
    config: RunnerConfig,
}

impl std::fmt::Debug for PerfTester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfTester")
            .field("target", &self.target.describe())
            .field("baselines_dir", &self.baselines_dir)
            .field("config", &self.config)
            .finish()
    }
}

impl PerfTester {
    /// A tester for `target`, keeping baselines in `baselines/` and using the runner's
    /// defaults (30 s query timeout, no retries).
    pub fn new(target: Arc<dyn BotTarget>) -> Self {
        Self {
            target,
            baselines_dir: PathBuf::from("baselines"),
            config: RunnerConfig::default(),
        }
    }

    /// Keeps baselines in `dir` instead.
    pub fn with_baselines_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.baselines_dir = dir.into();
        self
    }

    /// Uses `config` for timeouts, retries and the samples file.
    pub fn with_runner_config(mut self, config: RunnerConfig) -> Self {
        self.config = config;
        self
    }

    /// Sends every query once with `max_concurrent` users and at most `rate_limit` starts a
    /// second (a ceiling; `None` for none), calling the target's `initialize` before and
    /// `shutdown` after.
    pub async fn run_parallel_queries(
        &self,
        queries: Vec<Query>,
        max_concurrent: usize,
        rate_limit: Option<f64>,
    ) -> Result<RunResult, SuiteError> {
        let runner = Runner::new(self.target.clone(), self.config.clone());
        let plan = Plan::new(queries, LoadProfile::closed(max_concurrent, rate_limit));
        let started = chrono::Utc::now();
        let mut result = RunResult::new(
            format!("{}", started.format("%Y%m%dT%H%M%S%.3fZ")),
            started.to_rfc3339(),
            self.target.describe(),
        );
        let target_error = |e: perf_core::TargetError| SuiteError::Target {
            target: self.target.describe().name,
            message: e.message,
        };
        runner.initialize().await.map_err(target_error)?;
        let outcome = runner.run(&plan, &mut result).await;
        let shutdown = runner.shutdown().await;
        outcome?;
        shutdown.map_err(target_error)?;
        Ok(result)
    }

    /// Saves `run` as baseline `name` (replacing one of that name).
    pub fn create_performance_baseline(
        &self,
        name: &str,
        run: &RunResult,
    ) -> Result<PathBuf, SuiteError> {
        let store = BaselineStore::new(&self.baselines_dir);
        store.create_from_run(name, run, self.environment(run), WriteMode::Replace)?;
        Ok(store.path_of(name)?)
    }

    /// Compares `run` with baseline `name` using the default thresholds (15% on latency)
    /// and statistics (`docs/regression-detection.md`).
    pub fn run_regression_tests(
        &self,
        run: &RunResult,
        name: &str,
    ) -> Result<Comparison, SuiteError> {
        let baseline = BaselineStore::new(&self.baselines_dir).load(name)?;
        Ok(perf_baseline::compare(
            &baseline,
            run,
            &self.environment(run),
            &Thresholds::default(),
            &CompareOptions::default(),
        )?)
    }

    fn environment(&self, run: &RunResult) -> EnvironmentFingerprint {
        EnvironmentFingerprint::detect(&run.target, HARNESS_VERSION)
    }
}
