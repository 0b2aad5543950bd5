use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use perf_core::event::{PhaseEvent, SuiteEvent};
use perf_core::record::{PhaseStatus, PhaseTiming, RunResult};
use perf_core::{BotTarget, LoadProfile, Query};
use perf_runner::{MonitorConfig, Plan, Runner, RunnerConfig};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::{Config, EdgeCaseRun, SuiteError};

/// The phases of a run, numbered as in the original suite.
pub const PHASES: [(u8, &str); 6] = [
    (1, "Content Analysis"),
    (2, "Standard Query Generation"),
    (3, "Synthetic Data Generation"),
    (4, "Parallel Query Execution"),
    (5, "Performance Baseline Analysis"),
    (6, "Regression Testing"),
];

/// What a finished suite run produced.
#[derive(Debug)]
#[non_exhaustive]
pub struct SuiteOutcome {
    /// Everything measured.
    pub result: RunResult,
    /// Every report written for the run.
    pub reports: perf_report::ReportPaths,
    /// Errors after the first query that did not stop the reports (a failed execution, a
    /// baseline that could not be read or written, a history that could not be updated).
    /// The reports were written; the binaries print these and exit 2.
    pub problems: Vec<String>,
}

impl SuiteOutcome {
    /// The directory holding this run's files.
    pub fn run_dir(&self) -> &Path {
        &self.reports.dir
    }

    /// The machine-readable result file (`report.json`).
    pub fn result_file(&self) -> &Path {
        &self.reports.json
    }
}

/// Saves `run` as baseline `name` in the configured baselines directory, fingerprinted for
/// this machine; `replace` allows overwriting an existing one. Returns the file written.
pub fn save_baseline(
    config: &Config,
    name: &str,
    run: &RunResult,
    replace: bool,
) -> Result<PathBuf, SuiteError> {
    let mode = if replace {
        perf_baseline::WriteMode::Replace
    } else {
        perf_baseline::WriteMode::CreateNew
    };
    save_baseline_with(config, name, run, mode, None)
}

/// Saves `run` as baseline `name` with `capacity` (what a gate's capacity search found).
pub(crate) fn save_baseline_with(
    config: &Config,
    name: &str,
    run: &RunResult,
    mode: perf_baseline::WriteMode,
    capacity: Option<perf_baseline::BaselineCapacity>,
) -> Result<PathBuf, SuiteError> {
    let store = perf_baseline::BaselineStore::new(&config.performance_baselines.baselines_dir);
    let env = perf_baseline::EnvironmentFingerprint::detect(&run.target, HARNESS_VERSION);
    let mut baseline = perf_baseline::Baseline::from_run(name, run, env);
    baseline.capacity = capacity;
    Ok(store.save(&baseline, mode)?)
}

/// The configuration as reports show it: the target section from its redacted view (no
/// URL credentials or query values, no secret header or environment values).
fn shown_config(config: &Config) -> serde_json::Value {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    if let (Some(obj), Ok(target)) = (
        value.as_object_mut(),
        serde_json::to_value(config.target.redacted()),
    ) {
        obj.insert("target".to_owned(), target);
    }
    // The location as every other output shows it: no user name, password or credential
    // parameter (a value that does not parse is never stored, so the fallback is moot).
    if let (Some(obj), Some(url)) = (value.as_object_mut(), &config.history_url) {
        let shown = perf_baseline::HistoryLocation::parse(url, "history_url")
            .map_or_else(|_| perf_core::REDACTED.to_owned(), |l| l.redacted());
        obj.insert("history_url".to_owned(), serde_json::Value::String(shown));
    }
    value
}

/// The harness version recorded in baselines and fingerprints.
pub const HARNESS_VERSION: &str = env!("CARGO_PKG_VERSION");

pub(crate) struct Phases<'a> {
    pub(crate) events: Option<&'a UnboundedSender<SuiteEvent>>,
    pub(crate) timings: Vec<PhaseTiming>,
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

    fn finish(&mut self, number: u8, started: Instant, status: PhaseStatus, detail: String) {
        let t = PhaseTiming {
            number,
            name: PHASES[usize::from(number) - 1].1.to_owned(),
            seconds: started.elapsed().as_secs_f64(),
            status,
            detail,
        };
        self.emit(SuiteEvent::Phase(PhaseEvent::Finished(t.clone())));
        self.timings.push(t);
    }

    fn skip(&mut self, number: u8, why: &str) {
        let started = self.start(number);
        self.finish(number, started, PhaseStatus::Skipped, why.to_owned());
    }
}

/// Runs every phase against the configured target and writes the reports under
/// `config.output_dir/<run-id>/`. Cancelling `cancel` stops scheduling; the partial result
/// is still written, marked interrupted.
pub async fn run_suite(
    config: &Config,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
) -> Result<SuiteOutcome, SuiteError> {
    run_suite_amending(config, events, cancel, |_| {}).await
}

/// [`run_suite`], with `before_reports` adding to the result (checks, notes) after the
/// phases and before the reports are written, so they are written once and complete.
pub async fn run_suite_amending(
    config: &Config,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    run_suite_inner(
        config,
        events,
        cancel,
        CancellationToken::new(),
        before_reports,
    )
    .await
}

/// [`run_suite`], with `end_grace` ending the grace period after a cancellation at once
/// (the orchestrator's second Ctrl-C): queries still in flight are abandoned, and the
/// reports of what finished are written.
pub async fn run_suite_with_end_grace(
    config: &Config,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    end_grace: CancellationToken,
) -> Result<SuiteOutcome, SuiteError> {
    run_suite_inner(config, events, cancel, end_grace, |_| {}).await
}

async fn run_suite_inner(
    config: &Config,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    end_grace: CancellationToken,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    config.validate()?;
    preflight(config).await?;
    let mut phases = Phases {
        events: events.as_ref(),
        timings: Vec::new(),
    };
    let started_at = chrono::Utc::now();
    let mut run_id = crate::session::run_id(started_at, "", "", 4);
    if !config.shard.is_whole() {
        // Shards' reports often end up in one directory (artifacts, a volume).
        run_id.push_str(&format!(
            "-shard{}of{}",
            config.shard.number(),
            config.shard.total()
        ));
    }
    let run_dir = config.output_dir.join(&run_id);
    phases.emit(SuiteEvent::RunStarted {
        run_id: run_id.clone(),
    });

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
        PhaseStatus::Completed,
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
    // With `questions`, the file's questions and the configuration they imply (critical
    // paths) stand in for the generated queries from here on.
    let (mut standard, effective, detail) = crate::questions::standard_queries(config, &content)?;
    let config = effective.as_ref().unwrap_or(config);
    phases.finish(2, t, PhaseStatus::Completed, detail);

    // Phase 3: synthetic scenarios.
    let synthetic = &config.synthetic_testing;
    let mut scenario_plans = if synthetic.enabled {
        let t = phases.start(3);
        let mut registry = perf_synth::ScenarioRegistry::with_builtins();
        registry.load_paths(&synthetic.scenario_paths)?;
        let plans = registry.plans(
            &synthetic.flags(),
            &content,
            config.seed,
            synthetic.effective_scale(),
        )?;
        let n: usize = plans.iter().map(|p| p.queries.len()).sum();
        phases.finish(
            3,
            t,
            PhaseStatus::Completed,
            format!("{n} synthetic queries in {} scenarios", plans.len()),
        );
        plans
    } else {
        phases.skip(3, "synthetic_testing.enabled is false");
        Vec::new()
    };

    // Phase 4: execution.
    std::fs::create_dir_all(&run_dir).map_err(|source| SuiteError::Io {
        path: run_dir.clone(),
        source,
    })?;
    let waiting = |note: String| phases.emit(SuiteEvent::Note(note));
    let (target, external) =
        match crate::session::open_target(config, &run_dir, &cancel, &waiting).await {
            Ok(t) => t,
            Err(e) => {
                // Nothing ran: leave no empty run directory behind (the message carries what
                // the bot said).
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(e);
            }
        };
    // A baseline of another bot is refused before any load is sent: two bots' figures
    // measure nothing (docs/baselines.md).
    if config.performance_baselines.enabled {
        let pb = &config.performance_baselines;
        let store = perf_baseline::BaselineStore::new(&pb.baselines_dir);
        if let Err(e) = perf_baseline::refuse_other_target(&store, &pb.policy(), &target.describe())
        {
            let _ = target.shutdown().await;
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e.into());
        }
    }
    // The bot's own agent names, mapped to the critical paths they serve.
    let mapped = crate::grounding::MappedAgents::new(target, &config.agents);
    let target: Arc<dyn BotTarget> = mapped.clone();
    // Whether the generated facts and agent names apply to this bot (docs/your-bot.md).
    // Your own questions carry your own expectations: nothing to calibrate.
    let grounding = crate::grounding::decide(
        config.grounding,
        matches!(config.target, perf_targets::TargetSpec::Refbot) || config.questions.is_some(),
        !config.agents.is_empty(),
        &*target,
        &standard,
        Duration::from_secs_f64(config.query_timeout),
        &cancel,
    )
    .await;
    grounding.apply(
        standard.iter_mut().chain(
            scenario_plans
                .iter_mut()
                .filter(|p| p.source == "builtin")
                .flat_map(|p| p.queries.iter_mut()),
        ),
    );
    if let Some(note) = &grounding.note {
        phases.emit(SuiteEvent::Note(note.clone()));
    }
    // From here on a query may have run: every error is recorded and the reports are
    // still written.
    let mut problems = Vec::new();
    let mut result = RunResult::new(&run_id, started_at.to_rfc3339(), target.describe());
    result.content = Some(content);
    result.config = shown_config(config);
    result.goodput = Some(perf_core::record::GoodputTally::new(&config.slos));
    result.notes.extend(grounding.note.clone());
    for check in grounding.checks() {
        phases.emit(SuiteEvent::Check(check.clone()));
        result.checks.push(check);
    }
    // A distributed test's shards wait for their shared start instant here.
    result.shard = crate::distributed::wait_for_start(config).await;
    let t = phases.start(4);
    let outcome = Execution {
        config,
        target: &target,
        standard: &standard,
        scenarios: &scenario_plans,
        run_dir: &run_dir,
        events: &events,
        cancel,
        end_grace,
    }
    .run(&mut result)
    .await;
    let shutdown = target.shutdown().await;
    let status = if result.interrupted {
        PhaseStatus::Interrupted
    } else {
        PhaseStatus::Completed
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
    if let Err(e) = outcome {
        result.interrupted = true;
        result
            .notes
            .push(format!("the run stopped early on an error: {e}"));
        problems.push(e.to_string());
    }
    if let Err(e) = shutdown {
        result.notes.push(perf_core::bounded(
            &target.redactor(),
            &format!("target shutdown failed: {e}"),
            perf_core::MAX_ERROR_CHARS,
        ));
    }
    let folded = &result.folded;
    if !folded.is_empty() {
        result.notes.push(format!(
            "the bot named more than {max} distinct agents or the plan more than {max} categories: \
             {} further agent names and {} further categories were counted under `{}` \
             (docs/limits.md)",
            folded.agents,
            folded.categories,
            perf_core::OTHER,
            max = perf_core::MAX_TRACKED_NAMES,
        ));
    }
    if let Some(t) = &external {
        result.notes.extend(t.notes());
        result.checks.extend(t.checks());
        result.discord = t.discord_summary();
    }
    result.notes.extend(
        config
            .target
            .timeout_note(Duration::from_secs_f64(config.query_timeout)),
    );
    if !config.agents.is_empty() || grounding.routing_off.is_some() {
        result.notes.extend(mapped.note());
    }
    let scaled = scenario_plans
        .iter()
        .any(|p| (p.scale - 1.0).abs() > f64::EPSILON);
    if scaled {
        if let Some(note) = perf_synth::scale_note(synthetic.effective_scale()) {
            result.notes.push(note);
        }
    }

    // Phase 5: baseline analysis.
    // A shard's figures are a slice of the test: phases 5 and 6 and the history judge the
    // merge of all shards (`orchestrator merge`), not each one.
    let shard_note = (!config.shard.is_whole())
        .then(|| format!("shard {}: judged on the merge of the shards", config.shard));
    if let Some(why) = &shard_note {
        phases.skip(5, why);
        phases.skip(6, why);
    } else {
        let policy = config.performance_baselines.policy();
        judge(config, &policy, &mut result, &mut phases, &mut problems);
        if config.questions.is_some() {
            crate::questions::explain_failures(&mut result);
        }
    }
    result.phases = phases.timings;

    // History and trends, then the reports: a broken history must not lose the run; the
    // problem makes the run exit 2 (`SuiteOutcome::exit`). An interrupted run is recorded
    // as such, so no Ctrl-C stops the history write.
    let record = config.record_history && shard_note.is_none();
    crate::session::finish(config, result, problems, record, None, before_reports).await
}

/// Phases 5 and 6 on a finished result, a run's or a merge's: the baseline analysis under
/// `policy`, then the critical paths. A baseline that cannot be read or written fails
/// phase 5 and is added to `problems`; the result is kept either way.
pub(crate) fn judge(
    config: &Config,
    policy: &perf_baseline::BaselinePolicy,
    result: &mut RunResult,
    phases: &mut Phases<'_>,
    problems: &mut Vec<String>,
) {
    let pb = &config.performance_baselines;
    if pb.enabled {
        let t = phases.start(5);
        let store = perf_baseline::BaselineStore::new(&pb.baselines_dir);
        let env = perf_baseline::EnvironmentFingerprint::detect(&result.target, HARNESS_VERSION);
        let outcome = perf_baseline::check_against_baseline(&store, result, &env, policy)
            .unwrap_or_else(|e| {
                problems.push(e.to_string());
                perf_baseline::BaselineOutcome {
                    comparison: None,
                    action: perf_baseline::BaselineAction::Missing,
                    passed: false,
                    message: e.to_string(),
                }
            });
        let check = perf_core::record::CheckResult {
            group: perf_core::record::CheckGroup::Baseline,
            name: pb.baseline_name.clone(),
            status: baseline_status(&outcome),
            reason: outcome.message.clone(),
        };
        phases.emit(SuiteEvent::Check(check.clone()));
        result.checks.push(check);
        result.comparison = outcome.comparison;
        phases.finish(5, t, pass_or_fail(outcome.passed), outcome.message);
    } else {
        phases.skip(5, "performance_baselines.enabled is false");
    }

    let rt = &config.regression_testing;
    if rt.enabled {
        let t = phases.start(6);
        let checks = perf_baseline::critical_path_checks(result, &rt.critical_paths, &rt.limits);
        let failed = checks.iter().filter(|c| c.failed()).count();
        let unmeasured = checks.iter().filter(|c| c.unmeasured()).count();
        let mut detail = format!(
            "{} of {} critical paths passed",
            checks.len() - failed - unmeasured,
            checks.len()
        );
        if unmeasured > 0 {
            detail.push_str(&format!(", {unmeasured} not measured"));
        }
        for c in &checks {
            phases.emit(SuiteEvent::Check(c.clone()));
        }
        result.checks.extend(checks);
        phases.finish(6, t, pass_or_fail(failed == 0), detail);
    } else {
        phases.skip(6, "regression_testing.enabled is false");
    }
}

/// Phase 5's check: failed when the run must fail; not measured when nothing was compared
/// (no baseline yet, lenient, or this run just became it); else passed.
fn baseline_status(outcome: &perf_baseline::BaselineOutcome) -> perf_core::record::CheckStatus {
    use perf_baseline::BaselineAction;
    match (outcome.passed, outcome.action) {
        (false, _) => perf_core::record::CheckStatus::Failed,
        (true, BaselineAction::Missing | BaselineAction::Created) => {
            perf_core::record::CheckStatus::NotMeasured
        }
        (true, BaselineAction::Compared | BaselineAction::Updated) => {
            perf_core::record::CheckStatus::Passed
        }
    }
}

fn pass_or_fail(passed: bool) -> PhaseStatus {
    if passed {
        PhaseStatus::Completed
    } else {
        PhaseStatus::Failed
    }
}

/// Checks everything that can be checked before the first query, so a run never works for
/// minutes and then fails on a file: the baseline name, the baseline file (parsed), a
/// missing baseline under `missing_baseline: strict`, the reports directory (writable) and
/// the history the run records into (an existing SQLite file or the shared database,
/// opened and migrated). Leaves nothing behind on failure.
pub async fn preflight(config: &Config) -> Result<(), SuiteError> {
    config.check_scenario_paths()?;
    if let Some(path) = &config.questions {
        perf_synth::QuestionSet::load(path)?;
    }
    let pb = &config.performance_baselines;
    if pb.enabled {
        let store = perf_baseline::BaselineStore::new(&pb.baselines_dir);
        let path = store.path_of(&pb.baseline_name)?;
        match store.load(&pb.baseline_name) {
            Ok(_) => {}
            Err(perf_baseline::BaselineError::NotFound { .. }) => {
                if pb.missing_baseline == perf_baseline::MissingBaseline::Strict
                    && !pb.auto_update_baselines
                {
                    return Err(SuiteError::StrictBaselineMissing {
                        name: pb.baseline_name.clone(),
                        path,
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    check_writable_dir(&config.output_dir, "output_dir")?;
    // The history the run will record into, where it will record (a shard does not):
    // opened (and migrated) now, so a bad location or an unreachable server is found
    // before any load is sent. A missing SQLite file is left to be created by the run.
    if config.record_history && config.shard.is_whole() {
        let location = config.history_location()?;
        match &location {
            perf_baseline::HistoryLocation::Sqlite(path) if !path.exists() => {}
            perf_baseline::HistoryLocation::Sqlite(path) => {
                let history = perf_baseline::History::connect(&location)
                    .await
                    .map_err(|e| SuiteError::History {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                history.close().await;
            }
            _ => {
                let history = perf_baseline::History::connect(&location)
                    .await
                    .map_err(|e| SuiteError::SharedHistory {
                        message: e.to_string(),
                    })?;
                history.close().await;
            }
        }
    }
    Ok(())
}

/// Proves `dir` writable without creating anything that stays: a probe file (removed
/// again) in `dir`, or, when `dir` does not exist yet, in its nearest existing ancestor,
/// which must be a directory.
fn check_writable_dir(dir: &Path, key: &str) -> Result<(), SuiteError> {
    let unusable = |why: String| {
        SuiteError::Invalid(perf_core::ConfigError::new(
            key,
            format!(
                "the directory {} cannot be written ({why}); choose a writable directory",
                dir.display()
            ),
        ))
    };
    let mut existing = dir;
    while !existing.as_os_str().is_empty() && std::fs::symlink_metadata(existing).is_err() {
        existing = existing.parent().unwrap_or_else(|| Path::new(""));
    }
    let existing = if existing.as_os_str().is_empty() {
        Path::new(".")
    } else {
        existing
    };
    if !existing.is_dir() {
        return Err(unusable(format!(
            "{} is not a directory",
            existing.display()
        )));
    }
    let probe = existing.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| unusable(e.to_string()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
/// Phase 4's inputs: what to send, to whom, and where its files and events go.
struct Execution<'a> {
    config: &'a Config,
    target: &'a Arc<dyn BotTarget>,
    standard: &'a [Query],
    scenarios: &'a [perf_synth::ScenarioPlan],
    run_dir: &'a Path,
    events: &'a Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
    end_grace: CancellationToken,
}

/// Seconds to a duration; the configuration's maxima keep it in range (validated).
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

impl Execution<'_> {
    /// Runs the standard plan and every scenario plan into `result`.
    async fn run(self, result: &mut RunResult) -> Result<(), SuiteError> {
        let Execution {
            config,
            target,
            standard,
            scenarios,
            run_dir,
            events,
            cancel,
            end_grace,
        } = self;
        let load = LoadProfile::closed(
            config.users(),
            config.parallel_execution.rate_limit_per_second,
        );
        load.validate("parallel_execution")?;
        let runner_config = RunnerConfig {
            query_timeout: secs(config.query_timeout),
            samples_path: config
                .save_intermediate_results
                .then(|| run_dir.join("samples.jsonl")),
            monitor: config.resource_monitoring.enabled.then(|| MonitorConfig {
                interval: secs(config.resource_monitoring.monitoring_interval),
            }),
            seed: config.seed,
            shard: config.shard,
            grace_period: secs(config.grace_period),
            ..RunnerConfig::default()
        };
        // A child of the run's token, so the first queries' watch can stop the run.
        let stop = cancel.child_token();
        let mut runner = Runner::new(Arc::clone(target), runner_config)
            .with_cancel(stop.clone())
            .with_end_grace(end_grace);
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
        let outcome = run_plans(
            config, &runner, standard, load, scenarios, &stop, events, result,
        )
        .await;
        drop(runner);
        if let Some(f) = forward {
            let _ = f.await;
        }
        outcome
    }
}

/// The standard queries, then every scenario in turn, all into `result`. The edge-case
/// scenario runs as [`EdgeCaseRun`] says (controls, then hostile/probe pairs on the
/// configured users) and adds its robustness checks, each sent as an event as it is known.
#[allow(clippy::too_many_arguments)]
async fn run_plans(
    config: &Config,
    runner: &Runner,
    standard: &[Query],
    load: LoadProfile,
    scenarios: &[perf_synth::ScenarioPlan],
    cancel: &CancellationToken,
    events: &Option<UnboundedSender<SuiteEvent>>,
    result: &mut RunResult,
) -> Result<(), SuiteError> {
    let mut watch = crate::questions::SameFailureWatch::new(standard.len(), cancel.clone());
    let plan = watch.attach(Plan::new(standard.to_vec(), load));
    let ran = runner.run(&plan, result).await;
    drop(plan);
    if let Some(why) = watch.verdict() {
        return Err(SuiteError::Target {
            target: result.target.name.clone(),
            message: why,
        });
    }
    ran?;
    for plan in scenarios {
        if cancel.is_cancelled() {
            break;
        }
        if plan.info.name == perf_synth::EDGE_SCENARIO {
            let report = EdgeCaseRun::from_config(config)
                .run(runner, &plan.queries, result)
                .await?;
            let checks = report.checks();
            if let Some(tx) = events {
                for c in &checks {
                    let _ = tx.send(SuiteEvent::Check(c.clone()));
                }
            }
            result.checks.extend(checks);
        } else {
            let run = Plan::new(plan.queries.clone(), plan.load.clone());
            runner.run(&run, result).await?;
        }
    }
    Ok(())
}

/// Records the run in the history (the SQLite file, or the shared database the
/// configuration names) and loads the trends of the last runs.
pub(crate) async fn record_history(
    config: &Config,
    result: &mut RunResult,
) -> Result<(), perf_baseline::BaselineError> {
    let location = config.history_location()?;
    let history = perf_baseline::History::connect(&location).await?;
    history.record(result).await?;
    // Trends and forecasts follow this bot only: another bot's runs in the same history
    // are not its past.
    result.trends = history
        .for_target(perf_baseline::target_key(&result.target))
        .trends(config.trend_runs, &perf_baseline::TrendOptions::default())
        .await?;
    result.forecasts = perf_baseline::forecast_trends(&result.trends, &config.trend_objectives());
    history.close().await;
    result.history = Some(location.redacted());
    Ok(())
}

#[cfg(test)]
mod shown_tests {
    use super::*;

    /// Issue #28, item 5: report.json's `config.history_url` kept the user name.
    #[test]
    fn the_shown_config_has_the_history_url_without_user_or_credentials() {
        let mut config = Config::default();
        config
            .set_history_url_flag(
                "postgres://perf-user@db.example/perf?passfile=/ci/.pgpass&sslmode=require",
            )
            .unwrap();
        let shown = shown_config(&config);
        assert_eq!(
            shown["history_url"],
            "postgres://[redacted]@db.example/perf?passfile=[redacted]&sslmode=require"
        );
        assert!(!shown.to_string().contains("perf-user"), "{shown}");
        let plain = shown_config(&Config::default());
        assert!(
            plain.get("history_url").is_none_or(|v| v.is_null()),
            "{plain}"
        );
    }
}
