//! The suite's configuration: the original suite's JSON keys, every one with a default, plus
//! this tool's own additions. Files are strict: an unknown key is an error that names the key,
//! where it is, and the closest known key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SuiteError;

mod keys;
#[cfg(test)]
mod tests;
mod validate;

use keys::{check_keys, check_shape, config_error};

/// The whole configuration. `Config::default()` is what runs when no file is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The message database; generated from `fixture` when missing.
    pub database_path: PathBuf,
    /// Standard queries to generate (spread over the critical paths).
    pub query_count: usize,
    /// Write the raw samples (`samples.jsonl`) next to the result.
    pub save_intermediate_results: bool,
    /// Closed-loop execution of the standard queries.
    pub parallel_execution: ParallelExecution,
    /// Baseline comparison.
    pub performance_baselines: PerformanceBaselines,
    /// Critical-path regression testing.
    pub regression_testing: RegressionTesting,
    /// Synthetic scenarios.
    pub synthetic_testing: SyntheticTesting,
    /// Resource monitoring.
    pub resource_monitoring: ResourceMonitoring,
    /// Seed for generated data, queries and the reference bot's latency model.
    pub seed: u64,
    /// Where run reports go (`<output_dir>/<run-id>/`).
    pub output_dir: PathBuf,
    /// Seconds a query may take before it counts as a timeout.
    pub query_timeout: f64,
    /// Shape of the generated database.
    pub fixture: perf_synth::FixtureConfig,
    /// The bot under test: `{"type": "refbot"}` (default), `{"type": "http", "url": ...}`
    /// or `{"type": "command", "command": ...}`.
    pub target: perf_targets::TargetSpec,
    /// The embedded reference bot's settings (latency model and fault knobs).
    pub refbot: RefBotSettings,
    /// The run history database (SQLite), for `orchestrator history` and trends; used when
    /// neither `history_url` nor `history_url_env` is set.
    pub history_path: PathBuf,
    /// The run history as a URL: `sqlite://PATH` (or a plain path) or
    /// `postgres://user@host:5432/database`, a history shared by many machines. Never with a
    /// password: that comes from `PGPASSWORD` or `~/.pgpass`, or the whole URL from the
    /// variable `history_url_env` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_url: Option<String>,
    /// The name of an environment variable holding the history URL (password allowed
    /// there); read when the history is opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history_url_env: Option<String>,
    /// Runs the trends in reports look back over.
    pub trend_runs: u32,
    /// Record each run in `history_path`.
    pub record_history: bool,
    /// Seconds queries in flight may still finish after a cancellation.
    pub grace_period: f64,
    /// Peak resource use the deployment gate accepts.
    pub resource_limits: ResourceLimits,
    /// Service-level objectives: goodput in every run is judged by them, and
    /// `orchestrator capacity` searches for the highest rate that meets them. See
    /// `docs/capacity.md`.
    #[serde(default, skip_serializing_if = "perf_core::record::Slos::is_empty")]
    pub slos: perf_core::record::Slos,
    /// Whether generated queries' expected facts (the generated server's counts and names)
    /// are judged: `auto` (default) asks the bot a few of them first and judges them only
    /// when it answers from the configured database; `on` always; `off` never
    /// (docs/your-bot.md).
    pub grounding: crate::Grounding,
    /// The bot's own agent names for each critical path (`{"server_analysis": ["stats"]}`):
    /// routing is judged with them. Without a mapping, routing is judged only when the bot
    /// names agents the way the generated queries expect.
    pub agents: std::collections::BTreeMap<String, Vec<String>>,
    /// A file of your own questions (`.jsonl`, `.csv` or a `.json` scenario file) that
    /// replace the generated standard queries; their categories become the critical paths
    /// unless `regression_testing.critical_paths` is set (`--questions`; docs/limits.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<PathBuf>,
    /// Shards the test is split into, for an engine's index variable that carries no total
    /// (`JOB_COMPLETION_INDEX`); `--shard-total` overrides it (docs/distributed.md).
    pub shards: u32,
    /// Which shard this process runs (from `--shard` or the engine's index; not a file key).
    #[serde(skip)]
    pub shard: perf_core::Shard,
    /// The wall-clock instant every shard starts executing at (`--start-at`; not a file key).
    #[serde(skip)]
    pub start_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Peak resource use of the target that `ci-gate`'s resource check accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceLimits {
    /// Peak resident memory of the target process, MiB.
    pub max_memory_mb: f64,
    /// Peak CPU of the target process, percent of one core.
    pub max_cpu_percent: f64,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            max_memory_mb: 2048.0,
            max_cpu_percent: 400.0,
        }
    }
}

/// The original suite's `parallel_execution` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParallelExecution {
    /// When false, queries run one at a time.
    pub enabled: bool,
    /// Queries in flight at most.
    pub max_concurrent: usize,
    /// Query starts per second, paced on a schedule; `null` for no pacing.
    pub rate_limit_per_second: Option<f64>,
}

/// The original suite's `performance_baselines` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PerformanceBaselines {
    /// Compare with (and create) a baseline.
    pub enabled: bool,
    /// Relative latency change that counts as a regression.
    pub baseline_threshold: f64,
    /// Replace the stored baseline with this run's figures.
    pub auto_update_baselines: bool,
    /// Name of the baseline file under `baselines_dir`.
    pub baseline_name: String,
    /// Where baseline files live.
    pub baselines_dir: PathBuf,
    /// `lenient` (pass, saying how to create it) or `strict` (fail) when the baseline is
    /// missing.
    pub missing_baseline: perf_baseline::MissingBaseline,
    /// Thresholds of the other metrics and per-agent overrides; the latency threshold is
    /// `baseline_threshold`.
    pub thresholds: perf_baseline::Thresholds,
    /// The command that creates the baseline, for messages (not a config key: `ci-gate`
    /// sets it, because a gate baseline must have the gate's query shape).
    #[serde(skip)]
    pub create_command: Option<String>,
    /// Compare with a baseline recorded from another target (`--allow-other-target`);
    /// by default that refuses to run (exit 2), because two bots' figures measure nothing.
    pub allow_other_target: bool,
}

impl PerformanceBaselines {
    /// The phase-5 policy: thresholds with `baseline_threshold` as the latency threshold.
    pub fn policy(&self) -> perf_baseline::BaselinePolicy {
        let mut thresholds = self.thresholds.clone();
        thresholds.latency = self.baseline_threshold;
        perf_baseline::BaselinePolicy {
            name: self.baseline_name.clone(),
            thresholds,
            options: perf_baseline::CompareOptions::default(),
            missing: self.missing_baseline,
            update: if self.auto_update_baselines {
                perf_baseline::UpdatePolicy::Auto
            } else {
                perf_baseline::UpdatePolicy::Never
            },
            create_command: self.create_command.clone(),
            allow_other_target: self.allow_other_target,
        }
    }
}

/// The original suite's `regression_testing` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegressionTesting {
    /// Check the critical paths.
    pub enabled: bool,
    /// Agents whose queries must succeed and route correctly.
    pub critical_paths: Vec<String>,
    /// What every critical path must meet.
    pub limits: perf_baseline::CriticalPathLimits,
    /// Whether the configuration file named `critical_paths` (not a file key): a
    /// questions file's categories replace only the default paths.
    #[serde(skip)]
    pub critical_paths_given: bool,
}

/// The original suite's `synthetic_testing` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticTesting {
    /// Run synthetic scenarios at all.
    pub enabled: bool,
    /// Hostile and unusual inputs.
    pub edge_cases: bool,
    /// Stress profiles (high frequency, memory and CPU intensive, mixed, concurrent users).
    pub stress_scenarios: bool,
    /// Load profiles (gradual, spike, sustained, burst).
    pub load_testing: bool,
    /// Multiplies every stress and load duration; `null` for the reduced default scale.
    pub scale: Option<f64>,
    /// Scenario files (JSON) or directories of them to run as well.
    pub scenario_paths: Vec<PathBuf>,
    /// Share of an edge-case class's queries that must be handled gracefully (0–1).
    pub robustness_threshold: f64,
}

impl SyntheticTesting {
    /// The flags in the form the scenario registry takes.
    pub fn flags(&self) -> perf_synth::SyntheticFlags {
        perf_synth::SyntheticFlags {
            enabled: self.enabled,
            edge_cases: self.edge_cases,
            stress_scenarios: self.stress_scenarios,
            load_testing: self.load_testing,
        }
    }

    /// The scale in force: the configured one, or the reduced default.
    pub fn effective_scale(&self) -> f64 {
        self.scale.unwrap_or(perf_synth::DEFAULT_SCALE)
    }
}

/// The original suite's `resource_monitoring` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceMonitoring {
    /// Sample system, target and harness resources during the run.
    pub enabled: bool,
    /// Seconds between readings.
    pub monitoring_interval: f64,
}

/// Settings of the embedded reference bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefBotSettings {
    /// Multiplies the modelled model-call latencies (0 for none).
    pub latency_scale: f64,
    /// Slowdown knob: 1.5 answers 50% slower.
    pub latency_factor: f64,
    /// Share of queries answered with a bot error.
    pub error_rate: f64,
    /// Share of queries that hang.
    pub hang_rate: f64,
    /// Share of queries answered wrongly (grounded expectations fail), drawn per query
    /// id; see `docs/refbot.md`. Left out of the shown configuration at 0, so adding it
    /// changed no configuration digest.
    #[serde(skip_serializing_if = "is_zero")]
    pub wrong_rate: f64,
    /// Echo queries and leak SQL errors, to see the robustness checks fail.
    pub naive: bool,
    /// The reference bot's LLM-like mode (model slots, a FIFO queue, streamed tokens);
    /// off when absent. `{}` turns it on with its defaults; see `docs/refbot.md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<perf_refbot::LlmConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_path: PathBuf::from("data/discord_messages.db"),
            query_count: 50,
            save_intermediate_results: true,
            parallel_execution: ParallelExecution::default(),
            performance_baselines: PerformanceBaselines::default(),
            regression_testing: RegressionTesting::default(),
            synthetic_testing: SyntheticTesting::default(),
            resource_monitoring: ResourceMonitoring::default(),
            seed: 42,
            output_dir: PathBuf::from("reports"),
            query_timeout: 30.0,
            fixture: perf_synth::FixtureConfig::default(),
            target: perf_targets::TargetSpec::Refbot,
            refbot: RefBotSettings::default(),
            history_path: PathBuf::from("data/history.db"),
            history_url: None,
            history_url_env: None,
            trend_runs: 20,
            record_history: true,
            grace_period: 5.0,
            resource_limits: ResourceLimits::default(),
            slos: perf_core::record::Slos::default(),
            grounding: crate::Grounding::Auto,
            agents: std::collections::BTreeMap::new(),
            questions: None,
            shards: 1,
            shard: perf_core::Shard::WHOLE,
            start_at: None,
        }
    }
}

impl Default for ParallelExecution {
    fn default() -> Self {
        Self {
            enabled: true,
            max_concurrent: 5,
            rate_limit_per_second: Some(10.0),
        }
    }
}

impl Default for PerformanceBaselines {
    fn default() -> Self {
        Self {
            enabled: true,
            baseline_threshold: 0.15,
            auto_update_baselines: false,
            baseline_name: "production_baseline".to_owned(),
            baselines_dir: PathBuf::from("baselines"),
            missing_baseline: perf_baseline::MissingBaseline::default(),
            thresholds: perf_baseline::Thresholds::default(),
            create_command: None,
            allow_other_target: false,
        }
    }
}

impl Default for RegressionTesting {
    fn default() -> Self {
        Self {
            enabled: true,
            critical_paths: perf_core::agents::ALL
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            limits: perf_baseline::CriticalPathLimits::default(),
            critical_paths_given: false,
        }
    }
}

impl Default for SyntheticTesting {
    fn default() -> Self {
        Self {
            enabled: true,
            edge_cases: true,
            stress_scenarios: true,
            load_testing: true,
            scale: None,
            scenario_paths: Vec::new(),
            robustness_threshold: perf_synth::DEFAULT_ROBUSTNESS_THRESHOLD,
        }
    }
}

impl Default for ResourceMonitoring {
    fn default() -> Self {
        Self {
            enabled: true,
            monitoring_interval: 1.0,
        }
    }
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl Default for RefBotSettings {
    fn default() -> Self {
        Self {
            latency_scale: 1.0,
            latency_factor: 1.0,
            error_rate: 0.0,
            hang_rate: 0.0,
            wrong_rate: 0.0,
            naive: false,
            llm: None,
        }
    }
}

/// Sections whose keys serde checks itself (they have free-form keys that the defaults do
/// not show); unknown keys there are still rejected, without a suggestion.
const SERDE_CHECKED: &[&str] = &["performance_baselines.thresholds", "target", "agents"];

/// The longest `query_timeout` accepted, seconds (a day).
pub const MAX_QUERY_TIMEOUT_S: f64 = 86_400.0;
/// The longest `grace_period` accepted, seconds (an hour).
pub const MAX_GRACE_PERIOD_S: f64 = 3_600.0;
/// The shortest `query_timeout` accepted, seconds (1 ms).
pub const MIN_QUERY_TIMEOUT_S: f64 = 0.001;
/// The shortest `resource_monitoring.monitoring_interval` accepted, seconds (10 ms).
pub const MIN_MONITORING_INTERVAL_S: f64 = 0.01;
/// The longest `resource_monitoring.monitoring_interval` accepted, seconds (an hour).
pub const MAX_MONITORING_INTERVAL_S: f64 = 3_600.0;

/// The most standard queries a run (`query_count`, `--query-count`, `ci-gate
/// --max-queries`) may generate: the queries are generated up front, so the count bounds
/// the memory a run takes before its first query.
pub const MAX_QUERY_COUNT: usize = 1_000_000;
/// The most queries in flight (`parallel_execution.max_concurrent`, `--max-concurrent`):
/// each is a task and, against a `cmd:` or HTTP bot, a connection or pipe slot.
pub const MAX_CONCURRENT: usize = 10_000;
/// The slowest pacing accepted, query starts per second (one start every 1000 s).
pub const MIN_RATE_PER_SECOND: f64 = 0.001;
/// The fastest pacing accepted, query starts per second.
pub const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;
/// The longest paced standard run accepted, seconds (a day): `query_count /
/// rate_limit_per_second` above it is an error naming both keys.
pub const MAX_PACED_RUN_S: f64 = 86_400.0;
/// The largest configuration or scenario file read, bytes (16 MiB).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The defaults with every optional key set, so that every known key shows when they are
/// serialized and a misspelled one gets a suggestion.
fn every_key() -> Config {
    let mut c = Config::default();
    let l = &mut c.regression_testing.limits;
    l.max_p95_ms = Some(0.0);
    l.max_ttft_p95_ms = Some(0.0);
    l.max_itl_p95_ms = Some(0.0);
    // The LLM mode is off by default, so the defaults do not show its keys.
    c.refbot.llm = Some(perf_refbot::LlmConfig::default());
    // Left out of the shown configuration at 0 (so it moved no configuration digest).
    c.refbot.wrong_rate = 1.0;
    c.history_url = Some(String::new());
    c.history_url_env = Some(String::new());
    c.questions = Some(PathBuf::new());
    c.slos = perf_core::record::Slos {
        latency_p95_ms: Some(1.0),
        latency_p99_ms: Some(1.0),
        ttft_p95_ms: Some(1.0),
        success_rate: Some(1.0),
        quality_floor: Some(1.0),
    };
    c
}

impl Config {
    /// A small, fast run that writes everything under `dir`: a 1,500-message generated
    /// database, 24 queries without a rate limit, the in-process reference bot without
    /// modelled latency, a tiny synthetic phase. For smoke tests of a harness built on
    /// these crates; set `target` to try another bot.
    pub fn small(dir: &Path) -> Config {
        let mut c = Config {
            database_path: dir.join("data/discord_messages.db"),
            output_dir: dir.join("reports"),
            history_path: dir.join("data/history.db"),
            ..Config::default()
        };
        c.fixture.messages = 1_500;
        c.query_count = 24;
        c.parallel_execution.rate_limit_per_second = None;
        c.refbot.latency_scale = 0.0;
        c.resource_monitoring.monitoring_interval = 0.2;
        c.synthetic_testing.scale = Some(0.005);
        c.performance_baselines.baselines_dir = dir.join("baselines");
        c
    }

    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, SuiteError> {
        let text = perf_synth::read_text_limited(path, MAX_CONFIG_FILE_BYTES).map_err(|e| {
            SuiteError::Config {
                path: path.to_owned(),
                message: format!("{e}; check the path given to --config"),
            }
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates configuration text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, SuiteError> {
        let err = |message: String| SuiteError::Config {
            path: path.to_owned(),
            message,
        };
        // Editors on Windows save UTF-8 with a byte-order mark; it is not part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| err(format!("it is not valid JSON: {e}")))?;
        check_shape(&value).map_err(err)?;
        let known = serde_json::to_value(every_key())
            .map_err(|e| err(format!("internal error describing the defaults: {e}")))?;
        check_keys(&value, &known, "").map_err(err)?;
        let mut config: Config = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        config.regression_testing.critical_paths_given = value
            .pointer("/regression_testing/critical_paths")
            .is_some();
        config.validate().map_err(|e| err(e.to_string()))?;
        Ok(config)
    }

    /// Checks a count given by a flag (`--query-count`, `--max-queries`,
    /// `--max-concurrent`) against its maximum; the error names the flag.
    pub fn check_count_flag(
        flag: &str,
        n: usize,
        max: usize,
    ) -> Result<usize, perf_core::ConfigError> {
        if n == 0 || n > max {
            return Err(perf_core::ConfigError::new(
                flag,
                format!("{n} is out of range: give a whole number from 1 to {max}"),
            ));
        }
        Ok(n)
    }

    /// Applies a `--target` flag value (`refbot`, an http(s):// URL, `openai+<URL>` or
    /// `cmd:<command line>`).
    pub fn set_target_flag(&mut self, value: &str) -> Result<(), perf_core::ConfigError> {
        self.target = perf_targets::TargetSpec::parse_flag(value)
            .map_err(|e| perf_core::ConfigError::new("--target", e.to_string()))?;
        Ok(())
    }

    /// Applies a `--history-url` flag value: the history URL (or path), in place of what the
    /// file said; a password in it is refused, naming the flag.
    pub fn set_history_url_flag(&mut self, value: &str) -> Result<(), perf_core::ConfigError> {
        perf_baseline::HistoryLocation::parse(value, "--history-url").map_err(config_error)?;
        self.history_url = Some(value.to_owned());
        self.history_url_env = None;
        Ok(())
    }

    /// Whether a history URL is configured (`history_url`, `history_url_env` or
    /// `--history-url`) rather than only the default `history_path`.
    pub fn shared_history(&self) -> bool {
        self.history_url.is_some() || self.history_url_env.is_some()
    }

    /// The objectives the trend series of a run report are forecast against: the SLOs
    /// first, else the critical-path limits (`regression_testing.limits`) for the same
    /// figure. `latency_p95` ← `slos.latency_p95_ms` or `limits.max_p95_ms`;
    /// `latency_p99` ← `slos.latency_p99_ms`; `ttft_p95` ← `slos.ttft_p95_ms` or
    /// `limits.max_ttft_p95_ms`; `success_rate` ← `slos.success_rate` or
    /// `limits.min_success_rate`; `quality` ← `slos.quality_floor`. Goodput has no
    /// objective (its trend is shown, not forecast).
    pub fn trend_objectives(&self) -> Vec<perf_baseline::TrendObjective> {
        let s = &self.slos;
        let l = &self.regression_testing.limits;
        let pick = |slo: Option<f64>, slo_key: &str, limit: Option<f64>, limit_key: &str| {
            slo.map(|v| (v, format!("slos.{slo_key}")))
                .or_else(|| limit.map(|v| (v, format!("regression_testing.limits.{limit_key}"))))
        };
        [
            (
                "latency_p95",
                pick(
                    s.latency_p95_ms,
                    "latency_p95_ms",
                    l.max_p95_ms,
                    "max_p95_ms",
                ),
                true,
            ),
            (
                "latency_p99",
                pick(s.latency_p99_ms, "latency_p99_ms", None, ""),
                true,
            ),
            (
                "ttft_p95",
                pick(
                    s.ttft_p95_ms,
                    "ttft_p95_ms",
                    l.max_ttft_p95_ms,
                    "max_ttft_p95_ms",
                ),
                true,
            ),
            (
                "success_rate",
                pick(
                    s.success_rate,
                    "success_rate",
                    Some(l.min_success_rate),
                    "min_success_rate",
                ),
                false,
            ),
            (
                "quality",
                pick(s.quality_floor, "quality_floor", None, ""),
                false,
            ),
        ]
        .into_iter()
        .filter_map(|(metric, objective, higher_is_worse)| {
            objective.map(|(value, key)| perf_baseline::TrendObjective {
                metric: metric.to_owned(),
                key,
                value,
                higher_is_worse,
            })
        })
        .collect()
    }

    /// Where the run history is: the variable `history_url_env` names (read now), else
    /// `history_url`, else the SQLite file `history_path`.
    pub fn history_location(
        &self,
    ) -> Result<perf_baseline::HistoryLocation, perf_baseline::BaselineError> {
        match (&self.history_url_env, &self.history_url) {
            (Some(var), _) => perf_baseline::HistoryLocation::from_env(var),
            (None, Some(url)) => perf_baseline::HistoryLocation::parse(url, "history_url"),
            (None, None) => Ok(perf_baseline::HistoryLocation::Sqlite(
                self.history_path.clone(),
            )),
        }
    }

    /// Virtual users of the closed loops (the standard queries, the edge-case pairs):
    /// `parallel_execution.max_concurrent`, or one when `parallel_execution.enabled` is
    /// false.
    pub fn users(&self) -> usize {
        let pe = &self.parallel_execution;
        if pe.enabled {
            pe.max_concurrent
        } else {
            1
        }
    }

    /// Checks that every scenario path (`--scenarios`, `synthetic_testing.scenario_paths`)
    /// exists, relative to the working directory as the run reads them: checked before a
    /// run or a capacity search starts, so a typo is never ignored in silence.
    pub fn check_scenario_paths(&self) -> Result<(), perf_core::ConfigError> {
        for (i, p) in self.synthetic_testing.scenario_paths.iter().enumerate() {
            if !p.exists() {
                return Err(perf_core::ConfigError::new(
                    format!("synthetic_testing.scenario_paths[{i}]"),
                    format!(
                        "{} does not exist (given by --scenarios or the config; relative paths are read from the working directory): give a scenario file or a directory of them",
                        p.display()
                    ),
                ));
            }
        }
        Ok(())
    }
}
