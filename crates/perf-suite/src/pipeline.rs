use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perf_core::{BotTarget, LoadProfile, PhaseTiming, Query, RunResult};
use perf_runner::{MonitorConfig, Plan, RunEvent, Runner, RunnerConfig};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::{Config, SuiteError};

/// The phases of a run, numbered as in the original suite.
pub const PHASES: [(u8, &str); 6] = [
    (1, "Content Analysis"),
    (2, "Standard Query Generation"),
    (3, "Synthetic Data Generation"),
    (4, "Parallel Query Execution"),
    (5, "Performance Baseline Analysis"),
    (6, "Regression Testing"),
];

/// Progress of a suite run, for the binaries to draw.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SuiteEvent {
    /// A phase started or ended.
    Phase(PhaseEvent),
    /// Something the runner reported during execution.
    Runner(RunEvent),
    /// A remark worth showing (a generated database, a reduced scale).
    Note(String),
}

/// A phase boundary.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PhaseEvent {
    /// The phase began.
    Started {
        /// Phase number.
        number: u8,
        /// Phase name.
        name: &'static str,
    },
    /// The phase ended (completed, skipped or failed).
    Finished(PhaseTiming),
}

/// What a finished suite run produced.
#[derive(Debug)]
#[non_exhaustive]
pub struct SuiteOutcome {
    /// Everything measured.
    pub result: RunResult,
    /// The directory holding this run's files.
    pub run_dir: PathBuf,
    /// The machine-readable result file.
    pub result_file: PathBuf,
}

struct Phases<'a> {
    events: Option<&'a UnboundedSender<SuiteEvent>>,
    timings: Vec<PhaseTiming>,
}

impl Phases<'_> {
    fn emit(&self, e: SuiteEvent) {
        if let Some(tx) = self.events {
            let _ = tx.send(e);
        }
    }

    fn start(&self, number: u8) -> Instant {
        let name = PHASES[usize::from(number) - 1].1;
        self.emit(SuiteEvent::Phase(PhaseEvent::Started { number, name }));
        Instant::now()
    }

    fn finish(&mut self, number: u8, started: Instant, status: &str, detail: String) {
        let t = PhaseTiming {
            number,
            name: PHASES[usize::from(number) - 1].1.to_owned(),
            seconds: started.elapsed().as_secs_f64(),
            status: status.to_owned(),
            detail,
        };
        self.emit(SuiteEvent::Phase(PhaseEvent::Finished(t.clone())));
        self.timings.push(t);
    }

    fn skip(&mut self, number: u8, why: &str) {
        let started = self.start(number);
        self.finish(number, started, "skipped", why.to_owned());
    }
}

/// Runs every phase against the embedded reference bot and writes the result under
/// `config.output_dir/<run-id>/`. Cancelling `cancel` stops scheduling; the partial result
/// is still written, marked interrupted.
pub async fn run_suite(
    config: &Config,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
) -> Result<SuiteOutcome, SuiteError> {
    config.validate()?;
    let mut phases = Phases {
        events: events.as_ref(),
        timings: Vec::new(),
    };
    let started_at = chrono::Utc::now();
    let run_id = format!(
        "{}-{:04x}",
        started_at.format("%Y%m%dT%H%M%SZ"),
        std::process::id() & 0xffff
    );
    let run_dir = config.output_dir.join(&run_id);

    // Phase 1: content analysis.
    let t = phases.start(1);
    let (pool, generated) =
        perf_synth::open_or_generate(&config.database_path, &config.fixture).await?;
    if generated {
        phases.emit(SuiteEvent::Note(format!(
            "generated a message database at {} (seed {})",
            config.database_path.display(),
            config.fixture.seed
        )));
    }
    let content = perf_synth::analyze_content(&pool, &config.database_path).await?;
    pool.close().await;
    phases.finish(
        1,
        t,
        "completed",
        format!(
            "{} messages, {} active channels, {} active users over {:.0} days",
            content.total_messages,
            content.active_channels(),
            content.active_users(),
            content.span_days()
        ),
    );

    // Phase 2: standard queries.
    let t = phases.start(2);
    let standard = perf_synth::generate_standard_queries(&content, config.query_count, config.seed);
    phases.finish(
        2,
        t,
        "completed",
        format!("{} standard queries", standard.len()),
    );

    // Phase 3: synthetic scenarios.
    phases.skip(3, "synthetic scenarios are not available in this build");

    // Phase 4: execution.
    let target = open_target(config).await?;
    let mut result = RunResult::new(&run_id, started_at.to_rfc3339(), target.describe());
    result.content = Some(content);
    result.config = serde_json::to_value(config).unwrap_or_default();
    std::fs::create_dir_all(&run_dir).map_err(|source| SuiteError::Io {
        path: run_dir.clone(),
        source,
    })?;
    let t = phases.start(4);
    let outcome = execute(
        config,
        &target,
        &standard,
        &run_dir,
        &events,
        cancel,
        &mut result,
    )
    .await;
    let shutdown = target.shutdown().await;
    let status = if result.interrupted {
        "interrupted"
    } else {
        "completed"
    };
    let s = result.overall.summary(result.wall_time_s);
    phases.finish(
        4,
        t,
        status,
        format!(
            "executed {} queries in {:.2}s: {} successful, {} failed",
            s.count, result.wall_time_s, s.successes, s.failures
        ),
    );
    outcome?;
    if let Err(e) = shutdown {
        result.notes.push(format!("target shutdown failed: {e}"));
    }

    // Phases 5 and 6.
    phases.skip(5, "baseline analysis is not available in this build");
    phases.skip(6, "regression testing is not available in this build");

    result.phases = phases.timings;
    let result_file = run_dir.join("report.json");
    write_json_atomic(&result_file, &result)?;
    Ok(SuiteOutcome {
        result,
        run_dir,
        result_file,
    })
}

async fn open_target(config: &Config) -> Result<Arc<dyn BotTarget>, SuiteError> {
    let bot_config = perf_refbot::RefBotConfig {
        database_path: config.database_path.clone(),
        seed: config.seed,
        latency_scale: config.refbot.latency_scale,
        latency_factor: config.refbot.latency_factor,
        error_rate: config.refbot.error_rate,
        hang_rate: config.refbot.hang_rate,
        naive: config.refbot.naive,
        ..perf_refbot::RefBotConfig::default()
    };
    let bot = perf_refbot::RefBot::open(bot_config)
        .await
        .map_err(|e| SuiteError::Target {
            target: "refbot".to_owned(),
            message: e.to_string(),
        })?;
    let bot: Arc<dyn BotTarget> = Arc::new(bot);
    bot.initialize().await.map_err(|e| SuiteError::Target {
        target: bot.describe().name,
        message: e.to_string(),
    })?;
    Ok(bot)
}

async fn execute(
    config: &Config,
    target: &Arc<dyn BotTarget>,
    queries: &[Query],
    run_dir: &Path,
    events: &Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    result: &mut RunResult,
) -> Result<(), SuiteError> {
    let pe = &config.parallel_execution;
    let users = if pe.enabled { pe.max_concurrent } else { 1 };
    let load = LoadProfile::closed(users, pe.rate_limit_per_second);
    load.validate("parallel_execution")?;
    let runner_config = RunnerConfig {
        query_timeout: Duration::from_secs_f64(config.query_timeout),
        samples_path: config
            .save_intermediate_results
            .then(|| run_dir.join("samples.jsonl")),
        monitor: config.resource_monitoring.enabled.then(|| MonitorConfig {
            interval: Duration::from_secs_f64(config.resource_monitoring.monitoring_interval),
        }),
        ..RunnerConfig::default()
    };
    let mut runner = Runner::new(Arc::clone(target), runner_config).with_cancel(cancel);
    let mut forward = None;
    if let Some(suite_tx) = events.clone() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        runner = runner.with_events(tx);
        forward = Some(tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if suite_tx.send(SuiteEvent::Runner(e)).is_err() {
                    break;
                }
            }
        }));
    }
    let plan = Plan {
        queries: queries.to_vec(),
        load,
        max_queries: None,
    };
    let run = runner.run(&plan, result).await;
    drop(runner);
    if let Some(f) = forward {
        let _ = f.await;
    }
    run?;
    Ok(())
}

/// Writes JSON to a temporary file and renames it into place, so readers never see a
/// half-written result.
fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), SuiteError> {
    let io = |source| SuiteError::Io {
        path: path.to_owned(),
        source,
    };
    let json = serde_json::to_vec_pretty(value).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
