//! The suite's configuration: the original suite's JSON keys, every one with a default, plus
//! this tool's own additions. Files are strict: an unknown key is an error that names the key,
//! where it is, and the closest known key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::SuiteError;

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

    /// Checks values that parse but make no sense; the error names the key.
    pub fn validate(&self) -> Result<(), perf_core::ConfigError> {
        use perf_core::ConfigError as E;
        let positive = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(E::new(key, format!("{v} must be a positive number")))
            }
        };
        perf_baseline_validate(self)?;
        self.slos.validate("slos.")?;
        crate::grounding::validate_agents(&self.agents, &self.regression_testing.critical_paths)?;
        for (key, v, max) in [
            ("query_count", self.query_count, MAX_QUERY_COUNT),
            (
                "parallel_execution.max_concurrent",
                self.parallel_execution.max_concurrent,
                MAX_CONCURRENT,
            ),
        ] {
            if v == 0 || v > max {
                return Err(E::new(
                    key,
                    format!("{v} is out of range: give a whole number from 1 to {max}"),
                ));
            }
        }
        if let Some(r) = self.parallel_execution.rate_limit_per_second {
            positive("parallel_execution.rate_limit_per_second", r)?;
            if !(MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&r) {
                return Err(E::new(
                    "parallel_execution.rate_limit_per_second",
                    format!(
                        "{r} is out of range: give {MIN_RATE_PER_SECOND} to {MAX_RATE_PER_SECOND} query starts per second, or null for no pacing"
                    ),
                ));
            }
            let paced_s = self.query_count as f64 / r;
            if paced_s > MAX_PACED_RUN_S {
                return Err(E::new(
                    "parallel_execution.rate_limit_per_second",
                    format!(
                        "{} queries at {r} per second take {paced_s:.0} s, more than the {MAX_PACED_RUN_S} s (a day) allowed: raise the rate or lower query_count",
                        self.query_count
                    ),
                ));
            }
        }
        positive(
            "performance_baselines.baseline_threshold",
            self.performance_baselines.baseline_threshold,
        )?;
        positive(
            "resource_monitoring.monitoring_interval",
            self.resource_monitoring.monitoring_interval,
        )?;
        positive("query_timeout", self.query_timeout)?;
        if !(self.grace_period.is_finite() && self.grace_period >= 0.0) {
            return Err(E::new("grace_period", "must be zero or positive"));
        }
        // Seconds that must become durations: bounded, so no conversion can overflow.
        for (key, value, max) in [
            ("query_timeout", self.query_timeout, MAX_QUERY_TIMEOUT_S),
            ("grace_period", self.grace_period, MAX_GRACE_PERIOD_S),
            (
                "resource_monitoring.monitoring_interval",
                self.resource_monitoring.monitoring_interval,
                MAX_MONITORING_INTERVAL_S,
            ),
        ] {
            if value > max {
                return Err(E::new(
                    key,
                    format!("{value} seconds is more than the {max} allowed"),
                ));
            }
        }
        // Positive but too small to be a duration (1e-300 s rounds to zero nanoseconds):
        // said as what it is, not as "must be positive".
        for (key, value, min) in [
            ("query_timeout", self.query_timeout, MIN_QUERY_TIMEOUT_S),
            (
                "resource_monitoring.monitoring_interval",
                self.resource_monitoring.monitoring_interval,
                MIN_MONITORING_INTERVAL_S,
            ),
        ] {
            if value < min {
                return Err(E::new(
                    key,
                    format!("{value} seconds is less than the {min} allowed"),
                ));
            }
        }

        positive(
            "resource_limits.max_memory_mb",
            self.resource_limits.max_memory_mb,
        )?;
        positive(
            "resource_limits.max_cpu_percent",
            self.resource_limits.max_cpu_percent,
        )?;
        if let Some(s) = self.synthetic_testing.scale {
            perf_synth::validate_scale(s)
                .map_err(|e| E::new("synthetic_testing.scale", e.message))?;
        }
        if !(0.0..=1.0).contains(&self.synthetic_testing.robustness_threshold) {
            return Err(E::new(
                "synthetic_testing.robustness_threshold",
                "must be between 0 and 1",
            ));
        }
        // The store's own rule (no `..`, no separators, at most 100 characters), so a bad
        // name is found before the run, not when the baseline is read after it.
        perf_baseline::BaselineStore::new(&self.performance_baselines.baselines_dir)
            .path_of(&self.performance_baselines.baseline_name)
            .map_err(|e| E::new("performance_baselines.baseline_name", e.to_string()))?;
        for (i, name) in self.regression_testing.critical_paths.iter().enumerate() {
            if name.trim().is_empty() {
                return Err(E::new(
                    format!("regression_testing.critical_paths[{i}]"),
                    "is empty: give an agent name such as `semantic_search`, or remove the entry",
                ));
            }
        }
        for (key, v) in [
            ("refbot.error_rate", self.refbot.error_rate),
            ("refbot.hang_rate", self.refbot.hang_rate),
            ("refbot.wrong_rate", self.refbot.wrong_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(E::new(
                    key,
                    format!("{v} must be a share between 0 and 1 (0.2 = one query in five)"),
                ));
            }
        }
        for (key, v) in [
            ("refbot.latency_scale", self.refbot.latency_scale),
            ("refbot.latency_factor", self.refbot.latency_factor),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(E::new(key, format!("{v} must be zero or positive")));
            }
        }
        if let Some(llm) = &self.refbot.llm {
            llm.validate().map_err(|e| match e {
                perf_refbot::RefBotError::Config { key, message } => {
                    E::new(format!("refbot.{key}"), message)
                }
                other => E::new("refbot.llm", other.to_string()),
            })?;
        }
        Ok(())
    }
}

fn perf_baseline_validate(c: &Config) -> Result<(), perf_core::ConfigError> {
    c.performance_baselines
        .policy()
        .thresholds
        .validate()
        .map_err(|e| {
            perf_core::ConfigError::new("performance_baselines.thresholds", e.to_string())
        })?;
    let l = &c.regression_testing.limits;
    if !(0.0..=1.0).contains(&l.min_success_rate) || !(0.0..=1.0).contains(&l.min_routing_accuracy)
    {
        return Err(perf_core::ConfigError::new(
            "regression_testing.limits",
            "min_success_rate and min_routing_accuracy must be between 0 and 1",
        ));
    }
    for (key, v) in [
        ("regression_testing.limits.max_p95_ms", l.max_p95_ms),
        (
            "regression_testing.limits.max_ttft_p95_ms",
            l.max_ttft_p95_ms,
        ),
        ("regression_testing.limits.max_itl_p95_ms", l.max_itl_p95_ms),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v > 0.0) {
                return Err(perf_core::ConfigError::new(
                    key,
                    format!("{v} must be a positive number of milliseconds"),
                ));
            }
        }
    }
    if c.history_url.is_some() && c.history_url_env.is_some() {
        return Err(perf_core::ConfigError::new(
            "history_url_env",
            "set either `history_url` or `history_url_env`, not both",
        ));
    }
    if let Some(url) = &c.history_url {
        perf_baseline::HistoryLocation::parse(url, "history_url").map_err(config_error)?;
    }
    if let Some(var) = &c.history_url_env {
        if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(perf_core::ConfigError::new(
                "history_url_env",
                format!("`{var}` is not an environment variable name: use letters, digits and `_`, e.g. PERF_HISTORY_URL"),
            ));
        }
    }
    if c.shards == 0 || c.shards > perf_core::MAX_SHARDS {
        return Err(perf_core::ConfigError::new(
            "shards",
            format!(
                "{} is not a number of shards: give 1 to {}",
                c.shards,
                perf_core::MAX_SHARDS
            ),
        ));
    }
    if c.trend_runs < 2 {
        return Err(perf_core::ConfigError::new(
            "trend_runs",
            "must be at least 2",
        ));
    }
    Ok(())
}

/// Rejects a document or section of the wrong JSON shape before serde reads it: the
/// document and every section must be objects (serde would read an array by position).
fn check_shape(value: &serde_json::Value) -> Result<(), String> {
    let Some(obj) = value.as_object() else {
        return Err(format!(
            "the configuration must be a JSON object (`{{...}}` with keys such as \"query_count\"), not {}",
            json_kind(value)
        ));
    };
    let known = serde_json::to_value(every_key()).unwrap_or_default();
    check_sections(obj, &known, "")
}

/// Every key whose default is an object must be an object (or null, which serde reports
/// on its own) in the document too.
fn check_sections(
    obj: &serde_json::Map<String, serde_json::Value>,
    known: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    for (key, v) in obj {
        let Some(k) = known.get(key).filter(|k| k.is_object()) else {
            continue;
        };
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match v {
            serde_json::Value::Object(inner) => check_sections(inner, k, &path)?,
            serde_json::Value::Null => {}
            other => {
                return Err(format!(
                    "`{path}` must be an object (`{{...}}`), not {}",
                    json_kind(other)
                ))
            }
        }
    }
    Ok(())
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A history location's error as a configuration error naming the key.
fn config_error(e: perf_baseline::BaselineError) -> perf_core::ConfigError {
    match e {
        perf_baseline::BaselineError::InvalidConfig { key, message } => {
            perf_core::ConfigError::new(key, message)
        }
        other => perf_core::ConfigError::new("history_url", other.to_string()),
    }
}

/// Finds the first key of `value` that `known` does not have, and names its closest
/// sibling.
fn check_keys(
    value: &serde_json::Value,
    known: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    let (Some(obj), Some(known_obj)) = (value.as_object(), known.as_object()) else {
        return Ok(());
    };
    if SERDE_CHECKED.contains(&at) {
        return Ok(());
    }
    for (k, v) in obj {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match known_obj.get(k) {
            Some(kv) => check_keys(v, kv, &path)?,
            None => {
                let place = if at.is_empty() {
                    "at the top level".to_owned()
                } else {
                    format!("in `{at}`")
                };
                let hint = perf_core::closest_match(k, known_obj.keys().map(String::as_str))
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| {
                        let mut keys: Vec<&str> = known_obj.keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        format!("; known keys there: {}", keys.join(", "))
                    });
                return Err(format!("unknown key `{path}` {place}{hint}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration example from the original suite's README, verbatim.
    const ORIGINAL_EXAMPLE: &str = r#"{
  "database_path": "data/discord_messages.db",
  "query_count": 50,
  "save_intermediate_results": true,
  
  "parallel_execution": {
    "enabled": true,
    "max_concurrent": 5,
    "rate_limit_per_second": 10
  },
  
  "performance_baselines": {
    "enabled": true,
    "baseline_threshold": 0.15,
    "auto_update_baselines": false,
    "baseline_name": "production_baseline"
  },
  
  "regression_testing": {
    "enabled": true,
    "critical_paths": [
      "server_analysis",
      "semantic_search",
      "user_analysis",
      "digest_generation"
    ]
  },
  
  "synthetic_testing": {
    "enabled": true,
    "edge_cases": true,
    "stress_scenarios": true,
    "load_testing": true
  },
  
  "resource_monitoring": {
    "enabled": true,
    "monitoring_interval": 1.0
  }
}"#;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("suite.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_original_example_parses_to_the_defaults() {
        let c = parse(ORIGINAL_EXAMPLE).unwrap();
        // The example names the critical paths, which the parsed configuration remembers
        // (a questions file's categories then do not replace them).
        assert!(c.regression_testing.critical_paths_given);
        let mut defaults = Config::default();
        defaults.regression_testing.critical_paths_given = true;
        assert_eq!(c, defaults);
        assert!(!parse("{}").unwrap().regression_testing.critical_paths_given);
        assert_eq!(c.parallel_execution.rate_limit_per_second, Some(10.0));
        assert_eq!(c.regression_testing.critical_paths.len(), 4);
    }

    #[test]
    fn a_misspelled_key_is_rejected_with_a_suggestion() {
        let e = parse(r#"{"parallel_execution": {"max_concurent": 3}}"#).unwrap_err();
        assert!(e.contains("suite.json"), "{e}");
        assert!(e.contains("`parallel_execution.max_concurent`"), "{e}");
        assert!(e.contains("did you mean `max_concurrent`"), "{e}");
        let e = parse(r#"{"query_cont": 3}"#).unwrap_err();
        assert!(
            e.contains("at the top level") && e.contains("`query_count`"),
            "{e}"
        );
        let e = parse(r#"{"zzzzzzzzzz": 3}"#).unwrap_err();
        assert!(e.contains("known keys there"), "{e}");
    }

    #[test]
    fn streaming_limits_parse_and_misspellings_get_a_suggestion() {
        let c = parse(
            r#"{"regression_testing": {"limits": {"max_p95_ms": 500, "max_ttft_p95_ms": 300, "max_itl_p95_ms": 40}}}"#,
        )
        .unwrap();
        let l = &c.regression_testing.limits;
        assert_eq!(l.max_p95_ms, Some(500.0));
        assert_eq!(l.max_ttft_p95_ms, Some(300.0));
        assert_eq!(l.max_itl_p95_ms, Some(40.0));
        let e =
            parse(r#"{"regression_testing": {"limits": {"max_ttft_p59_ms": 300}}}"#).unwrap_err();
        assert!(
            e.contains("`regression_testing.limits.max_ttft_p59_ms`")
                && e.contains("did you mean `max_ttft_p95_ms`"),
            "{e}"
        );
        let e = parse(r#"{"regression_testing": {"limits": {"max_ttft_p95_ms": 0}}}"#).unwrap_err();
        assert!(
            e.contains("regression_testing.limits.max_ttft_p95_ms"),
            "{e}"
        );
        // Unset limits stay out of the effective configuration (and its digest).
        let defaults = serde_json::to_string(&Config::default()).unwrap();
        assert!(!defaults.contains("ttft"), "{defaults}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = parse(r#"{"parallel_execution": {"max_concurrent": 0}}"#).unwrap_err();
        assert!(e.contains("parallel_execution.max_concurrent"), "{e}");
        let e = parse(r#"{"parallel_execution": {"rate_limit_per_second": -2}}"#).unwrap_err();
        assert!(e.contains("rate_limit_per_second"), "{e}");
        let e = parse(r#"{"query_count": "many"}"#).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = parse("{not json").unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = parse(r#"{"performance_baselines": {"baseline_name": "../x"}}"#).unwrap_err();
        assert!(e.contains("baseline_name"), "{e}");
        // Seconds that become durations are bounded: 1e300 is an error, not a panic.
        for key in ["query_timeout", "grace_period"] {
            let e = parse(&format!(r#"{{"{key}": 1e300}}"#)).unwrap_err();
            assert!(e.contains(key) && e.contains("allowed"), "{e}");
        }
        let e = parse(r#"{"resource_monitoring": {"monitoring_interval": 1e300}}"#).unwrap_err();
        assert!(e.contains("resource_monitoring.monitoring_interval"), "{e}");
    }

    /// Issue #16 D10: the shape of the document is checked before serde reads it.
    #[test]
    fn arrays_and_scalars_where_objects_belong_are_errors_naming_the_key() {
        let e = parse(r#"["/nonexistent/x.db", 3]"#).unwrap_err();
        assert!(
            e.contains("must be a JSON object") && e.contains("an array"),
            "{e}"
        );
        let e = parse("3").unwrap_err();
        assert!(
            e.contains("must be a JSON object") && e.contains("a number"),
            "{e}"
        );
        for section in [
            "parallel_execution",
            "performance_baselines",
            "regression_testing",
            "synthetic_testing",
            "resource_monitoring",
            "refbot",
            "fixture",
            "resource_limits",
        ] {
            let e = parse(&format!(r#"{{"{section}": []}}"#)).unwrap_err();
            assert!(
                e.contains(&format!("`{section}` must be an object")),
                "{section}: {e}"
            );
        }
        let e = parse(r#"{"regression_testing": {"limits": [500]}}"#).unwrap_err();
        assert!(
            e.contains("`regression_testing.limits` must be an object"),
            "{e}"
        );
        let e = parse(r#"{"refbot": {"llm": [2]}}"#).unwrap_err();
        assert!(e.contains("`refbot.llm` must be an object"), "{e}");
        // Arrays stay arrays where the key is a list.
        parse(r#"{"regression_testing": {"critical_paths": ["semantic_search"]}}"#).unwrap();
    }

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let c = parse("\u{feff}{\"query_count\": 7}").unwrap();
        assert_eq!(c.query_count, 7);
    }

    /// Issue #16 D4: counts that size up-front allocations are bounded, with the key, the
    /// value and the maximum in the message.
    #[test]
    fn counts_and_pacing_are_bounded() {
        let e = parse(r#"{"query_count": 18446744073709551615}"#).unwrap_err();
        assert!(
            e.contains("query_count")
                && e.contains("18446744073709551615")
                && e.contains("1000000"),
            "{e}"
        );
        let e = parse(r#"{"query_count": 1000000000000}"#).unwrap_err();
        assert!(
            e.contains("query_count") && e.contains("1 to 1000000"),
            "{e}"
        );
        parse(r#"{"query_count": 1000000, "parallel_execution": {"rate_limit_per_second": null}}"#)
            .unwrap();
        let e = parse(r#"{"query_count": -1}"#).unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = parse(r#"{"parallel_execution": {"max_concurrent": 10001}}"#).unwrap_err();
        assert!(
            e.contains("parallel_execution.max_concurrent") && e.contains("10000"),
            "{e}"
        );
        let e = parse(r#"{"parallel_execution": {"rate_limit_per_second": 1e-6}}"#).unwrap_err();
        assert!(
            e.contains("rate_limit_per_second") && e.contains("0.001"),
            "{e}"
        );
        // 50 queries at 0.001/s is 50,000 s (inside a day); 100 at 0.001/s is not.
        parse(r#"{"parallel_execution": {"rate_limit_per_second": 0.001}}"#).unwrap();
        let e = parse(
            r#"{"query_count": 100, "parallel_execution": {"rate_limit_per_second": 0.001}}"#,
        )
        .unwrap_err();
        assert!(e.contains("100000 s") && e.contains("query_count"), "{e}");
        assert_eq!(
            Config::check_count_flag("--max-queries", 1_000_000_000_000, MAX_QUERY_COUNT)
                .unwrap_err()
                .to_string(),
            "invalid value for `--max-queries`: 1000000000000 is out of range: give a whole number from 1 to 1000000"
        );
    }

    /// Issue #16 D10: values that parsed but meant nothing.
    #[test]
    fn negative_limits_empty_paths_and_bad_baseline_names_are_errors() {
        let e = parse(r#"{"regression_testing": {"limits": {"max_p95_ms": -5}}}"#).unwrap_err();
        assert!(
            e.contains("regression_testing.limits.max_p95_ms") && e.contains("-5"),
            "{e}"
        );
        let e = parse(r#"{"regression_testing": {"critical_paths": ["semantic_search", " "]}}"#)
            .unwrap_err();
        assert!(
            e.contains("regression_testing.critical_paths[1]") && e.contains("empty"),
            "{e}"
        );
        let long = "a".repeat(300);
        for bad in ["..", "a/b", "a\\b", long.as_str(), ""] {
            let e = parse(&format!(
                r#"{{"performance_baselines": {{"baseline_name": "{bad}"}}}}"#
            ))
            .unwrap_err();
            assert!(
                e.contains("performance_baselines.baseline_name")
                    && e.contains("at most 100 characters"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn config_files_are_read_with_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        #[cfg(unix)]
        {
            let e = Config::load(Path::new("/dev/zero"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/dev/zero") && e.contains("not a regular file"),
                "{e}"
            );
        }
        let big = dir.path().join("big.json");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_CONFIG_FILE_BYTES + 1).unwrap();
        let e = Config::load(&big).unwrap_err().to_string();
        assert!(e.contains("big.json") && e.contains("16 MiB"), "{e}");
    }

    #[test]
    fn the_history_is_a_path_or_a_url_and_never_holds_a_password() {
        use perf_baseline::HistoryLocation;
        let c = parse("{}").unwrap();
        assert!(!c.shared_history());
        assert_eq!(
            c.history_location().unwrap(),
            HistoryLocation::Sqlite("data/history.db".into())
        );
        let c = parse(r#"{"history_url": "postgres://perf@db.example/perf"}"#).unwrap();
        assert!(c.shared_history());
        assert_eq!(
            c.history_location().unwrap().to_string(),
            "postgres://[redacted]@db.example/perf"
        );
        let c = parse(r#"{"history_url": "sqlite://shared/h.db"}"#).unwrap();
        assert_eq!(
            c.history_location().unwrap(),
            HistoryLocation::Sqlite("shared/h.db".into())
        );
        let e = parse(r#"{"history_url": "postgres://perf:hunter2@db.example/perf"}"#).unwrap_err();
        assert!(
            e.contains("suite.json") && e.contains("`history_url`"),
            "{e}"
        );
        assert!(e.contains("PGPASSWORD") && !e.contains("hunter2"), "{e}");
        let e = parse(r#"{"history_url": "x.db", "history_url_env": "H"}"#).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = parse(r#"{"history_url_env": "not a name"}"#).unwrap_err();
        assert!(e.contains("history_url_env"), "{e}");
        let e = parse(r#"{"history_urls": "x.db"}"#).unwrap_err();
        assert!(e.contains("did you mean `history_url`"), "{e}");

        // The variable is read when the history is opened; a password there is fine.
        let var = "PERF_SUITE_CONFIG_TEST_HISTORY_URL";
        let c = parse(&format!(r#"{{"history_url_env": "{var}"}}"#)).unwrap();
        let e = c.history_location().unwrap_err().to_string();
        assert!(e.contains(var) && e.contains("not set"), "{e}");
        std::env::set_var(var, "postgres://perf:hunter2@db.example/perf");
        let shown = c.history_location().unwrap().to_string();
        std::env::remove_var(var);
        assert_eq!(shown, "postgres://[redacted]@db.example/perf");

        // The flag replaces the file's setting and is checked under its own name.
        let mut c = parse(&format!(r#"{{"history_url_env": "{var}"}}"#)).unwrap();
        c.set_history_url_flag("postgres://db.example/other")
            .unwrap();
        assert_eq!(c.history_url_env, None);
        assert_eq!(
            c.history_location().unwrap().to_string(),
            "postgres://db.example/other"
        );
        let e = c
            .set_history_url_flag("postgresql://u:hunter2@db.example/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--history-url") && !e.contains("hunter2"), "{e}");
        // Where the history lives is no setting of the test: the digest ignores it.
        let plain = serde_json::to_value(Config::default()).unwrap();
        let shared = Config {
            history_url: Some("postgres://db.example/perf".into()),
            ..Config::default()
        };
        assert_eq!(
            perf_baseline::config_digest(&plain),
            perf_baseline::config_digest(&serde_json::to_value(&shared).unwrap())
        );
    }

    #[test]
    fn partial_files_keep_the_other_defaults() {
        let c =
            parse(r#"{"query_count": 8, "parallel_execution": {"rate_limit_per_second": null}}"#)
                .unwrap();
        assert_eq!(c.query_count, 8);
        assert_eq!(c.parallel_execution.rate_limit_per_second, None);
        assert_eq!(c.parallel_execution.max_concurrent, 5);
    }

    #[test]
    fn the_refbot_llm_section_turns_the_mode_on_and_is_checked() {
        assert_eq!(Config::default().refbot.llm, None, "off by default");
        let c = parse(r#"{"refbot": {"llm": {}}}"#).unwrap();
        assert_eq!(c.refbot.llm, Some(perf_refbot::LlmConfig::default()));
        let c = parse(
            r#"{"refbot": {"llm": {"slots": 2, "time_scale": 0.01,
                "agents": {"semantic_search": {"ttft": 0.5, "token_gap": 0.01, "tokens": 40}}}}}"#,
        )
        .unwrap();
        let llm = c.refbot.llm.unwrap();
        assert_eq!((llm.slots, llm.time_scale), (2, 0.01));
        assert_eq!(llm.agents.semantic_search.tokens, 40);
        let e = parse(r#"{"refbot": {"llm": {"slotz": 2}}}"#).unwrap_err();
        assert!(
            e.contains("`refbot.llm.slotz`") && e.contains("did you mean `slots`"),
            "{e}"
        );
        let e = parse(r#"{"refbot": {"llm": {"agents": {"semantic_search": {"tokenz": 1}}}}}"#)
            .unwrap_err();
        assert!(
            e.contains("refbot.llm.agents.semantic_search.tokenz"),
            "{e}"
        );
        let e = parse(r#"{"refbot": {"llm": {"slots": 0}}}"#).unwrap_err();
        assert!(e.contains("refbot.llm.slots"), "{e}");
        let e = parse(r#"{"refbot": {"llm": {"time_scale": -1}}}"#).unwrap_err();
        assert!(e.contains("refbot.llm.time_scale"), "{e}");
    }

    #[test]
    fn the_wrong_rate_is_a_share_and_bad_values_name_the_key() {
        assert_eq!(Config::default().refbot.wrong_rate, 0.0);
        let c = parse(r#"{"refbot": {"wrong_rate": 0.2, "llm": {}}}"#).unwrap();
        assert_eq!(c.refbot.wrong_rate, 0.2);
        for bad in ["1.5", "-0.2"] {
            let e = parse(&format!(r#"{{"refbot": {{"wrong_rate": {bad}}}}}"#)).unwrap_err();
            assert!(
                e.contains("refbot.wrong_rate") && e.contains("between 0 and 1"),
                "{e}"
            );
        }
        let e = parse(r#"{"refbot": {"wrong_rat": 0.2}}"#).unwrap_err();
        assert!(e.contains("did you mean `wrong_rate`"), "{e}");
    }
}

#[cfg(test)]
mod slo_tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("suite.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_slos_section_parses_and_bad_or_contradictory_values_are_named() {
        let c = parse(r#"{"slos": {"latency_p95_ms": 2000, "quality_floor": 0.9}}"#).unwrap();
        assert_eq!(c.slos.latency_p95_ms, Some(2000.0));
        assert_eq!(c.slos.quality_floor, Some(0.9));
        assert_eq!(c.slos.ttft_p95_ms, None);
        let e = parse(r#"{"slos": {"latency_p59_ms": 2000}}"#).unwrap_err();
        assert!(
            e.contains("slos.latency_p59_ms") && e.contains("did you mean"),
            "{e}"
        );
        let e = parse(r#"{"slos": {"latency_p95_ms": 2000, "latency_p99_ms": 500}}"#).unwrap_err();
        assert!(e.contains("slos.latency_p99_ms"), "{e}");
        let e = parse(r#"{"slos": {"success_rate": 0}}"#).unwrap_err();
        assert!(e.contains("slos.success_rate"), "{e}");
        // Unset SLOs stay out of the effective configuration.
        let defaults = serde_json::to_string(&Config::default()).unwrap();
        assert!(!defaults.contains("slos"), "{defaults}");
    }
}
