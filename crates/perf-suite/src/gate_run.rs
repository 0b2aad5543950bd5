//! The deployment gate as a library: shaping the configuration, the time budget, the checks
//! and the decision with its exit code. `ci-gate` parses arguments and prints; this decides.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perf_core::record::{CheckResult, RunResult};
use tokio_util::sync::CancellationToken;

use crate::{gate_checks, Config, GateOptions, OnInconclusive, SuiteError};
use crate::{SuiteEvent, SuiteOutcome, GATE_GROUP};
use tokio::sync::mpsc::UnboundedSender;

/// What the gate is asked: `ci-gate`'s flags as data.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRequest {
    /// Hard budget for the whole gate.
    pub budget: Duration,
    /// Standard (critical-path) queries.
    pub max_queries: usize,
    /// Baseline to validate against (the configuration's when `None`).
    pub baseline: Option<String>,
    /// A missing baseline is "could not run" instead of a pass.
    pub strict_baseline: bool,
    /// Save this run as the baseline after the checks (not when the budget ran out).
    pub update_baseline: bool,
    /// What an inconclusive baseline verdict means.
    pub on_inconclusive: OnInconclusive,
    /// A `--target` value overriding the configuration's target.
    pub target: Option<String>,
    /// Also run the stress and load scenarios the configuration enables.
    pub with_load: bool,
    /// Multiplies stress and load durations.
    pub scale: Option<f64>,
    /// Results directory.
    pub out: PathBuf,
    /// Also search the capacity with what is left of the budget, and block when it is
    /// below this many queries per second (`--min-capacity`); see
    /// [`crate::capacity_check`].
    pub min_capacity: Option<f64>,
    /// Also search the capacity with what is left of the budget and compare it with the
    /// capacity stored in the baseline (`--capacity`; check `capacity_baseline`, see
    /// [`crate::capacity_baseline_check`]). With `update_baseline`, a capacity found by
    /// any search of the gate (this or `min_capacity`) is stored in the new baseline.
    pub capacity: bool,
    /// How the gate's capacity search runs (probes, search steps); its budget is replaced
    /// by what is left of the gate's. The binary uses the defaults.
    pub capacity_search: crate::CapacityRequest,
    /// Query starts per second (`--rate-limit`); `None`, the default, runs the critical
    /// paths unpaced, as fast as `parallel_execution.max_concurrent` allows.
    pub rate_limit: Option<f64>,
}

impl Default for GateRequest {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(300),
            max_queries: 200,
            baseline: None,
            strict_baseline: false,
            update_baseline: false,
            on_inconclusive: OnInconclusive::Pass,
            target: None,
            with_load: false,
            scale: None,
            out: PathBuf::from("cicd_results"),
            min_capacity: None,
            capacity: false,
            capacity_search: crate::CapacityRequest::default(),
            rate_limit: None,
        }
    }
}

/// The shortest budget accepted: a second (`1e-300` is positive, and no budget).
pub const MIN_GATE_BUDGET: Duration = Duration::from_secs(1);
/// The longest budget accepted: a week.
pub const MAX_GATE_BUDGET: Duration = Duration::from_secs(7 * 86_400);

impl GateRequest {
    /// The budget from seconds, as `--timeout` gives it; the error names the flag.
    pub fn budget_from_secs(secs: f64) -> Result<Duration, SuiteError> {
        match Duration::try_from_secs_f64(secs) {
            Ok(d) if d >= MIN_GATE_BUDGET && d <= MAX_GATE_BUDGET => Ok(d),
            _ => Err(perf_core::ConfigError::new(
                "--timeout",
                format!(
                    "{secs} is not a usable budget: give {} to {} seconds (a week)",
                    MIN_GATE_BUDGET.as_secs(),
                    MAX_GATE_BUDGET.as_secs()
                ),
            )
            .into()),
        }
    }

    /// The gate's configuration from `base` (the file, or the defaults): the critical paths
    /// unpaced, edge cases on, stress and load only with `with_load`, baselines and
    /// regression testing on, no auto-update, and the run recorded in the history only when a
    /// shared one is configured (`history_url`, `history_url_env`, `--history-url`): a
    /// runner's own `data/history.db` is thrown away with it.
    pub fn shape(&self, mut c: Config) -> Result<Config, SuiteError> {
        self.shape_in_place(&mut c)?;
        c.validate()?;
        Ok(c)
    }

    /// [`shape`](Self::shape) without the validation, for
    /// [`Overrides::apply_with`](crate::Overrides::apply_with), which validates once.
    pub fn shape_in_place(&self, c: &mut Config) -> Result<(), SuiteError> {
        if let Some(min) = self.min_capacity {
            if !(min.is_finite()
                && (crate::MIN_RATE_PER_SECOND..=crate::MAX_RATE_PER_SECOND).contains(&min))
            {
                return Err(perf_core::ConfigError::new(
                    "--min-capacity",
                    format!(
                        "{min} is out of range: give queries per second from {} to {}",
                        crate::MIN_RATE_PER_SECOND,
                        crate::MAX_RATE_PER_SECOND
                    ),
                )
                .into());
            }
        }
        c.query_count =
            Config::check_count_flag("--max-queries", self.max_queries, crate::MAX_QUERY_COUNT)?;
        // The gate wants an answer fast: no pacing unless asked for, and stress and load
        // only when asked for.
        c.parallel_execution.rate_limit_per_second = self.rate_limit;
        if !self.with_load {
            c.synthetic_testing.stress_scenarios = false;
            c.synthetic_testing.load_testing = false;
        }
        c.synthetic_testing.enabled = true;
        c.synthetic_testing.edge_cases = true;
        c.performance_baselines.enabled = true;
        c.regression_testing.enabled = true;
        if let Some(b) = &self.baseline {
            c.performance_baselines.baseline_name = b.clone();
        }
        // With --update-baseline a missing baseline is what this run creates.
        if self.strict_baseline && !self.update_baseline {
            c.performance_baselines.missing_baseline = perf_baseline::MissingBaseline::Strict;
        }
        c.performance_baselines.auto_update_baselines = false;
        // A run that replaces the baseline may replace one of another bot.
        if self.update_baseline {
            c.performance_baselines.allow_other_target = true;
        }
        c.performance_baselines.create_command = Some(format!(
            "ci-gate --baseline {} --update-baseline",
            c.performance_baselines.baseline_name
        ));
        if let Some(s) = self.scale {
            c.synthetic_testing.scale = Some(s);
        }
        if let Some(t) = &self.target {
            c.set_target_flag(t)?;
        }
        c.output_dir = self.out.clone();
        c.record_history = c.record_history && c.shared_history();
        c.grace_period = c.grace_period.min(1.0);
        Ok(())
    }

    /// Refuses what a gate cannot do with this configuration: `--min-capacity` on a merge
    /// or a shard, `--update-baseline` on a shard. [`run_gate`] and
    /// [`merge_gate`](crate::merge_gate) call it first, so no binary has rules of its own.
    pub fn refuse_conflicts(&self, config: &Config, merging: bool) -> Result<(), SuiteError> {
        let refuse = |key: &str, message: String| -> Result<(), SuiteError> {
            Err(perf_core::ConfigError::new(key, message).into())
        };
        // The capacity search needs a live bot and one machine's view of it: a merge has
        // no bot to search (its job often runs where the bot is not even reachable), and a
        // shard's search would measure a slice. Refused rather than silently left out.
        if self.min_capacity.is_some() && merging {
            return refuse(
                "--min-capacity",
                "cannot be used with --merge: a merge of shard results has no live bot to search; run the capacity gate on one machine (ci-gate --min-capacity N, without --merge or --shard) as its own step".to_owned(),
            );
        }
        if !merging && !config.shard.is_whole() {
            if self.min_capacity.is_some() {
                return refuse(
                    "--min-capacity",
                    format!("cannot be used on shard {} of a distributed test: its search would measure one slice of the load; run the capacity gate on one machine (ci-gate --min-capacity N, without --merge or --shard) as its own step", config.shard),
                );
            }
            if self.update_baseline {
                return refuse(
                    "--update-baseline",
                    "a shard is a slice of the test: save the baseline from the merge (ci-gate --merge DIR... --update-baseline)".to_owned(),
                );
            }
        }
        Ok(())
    }
}

/// What the gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    /// Every check passed: deploy (exit 0).
    Deploy,
    /// A check failed, or the budget ran out before the checks could decide (exit 1).
    Blocked,
    /// The gate could not run: bad configuration, unreachable target, strict baseline
    /// missing (exit 2).
    CouldNotRun,
    /// Stopped by Ctrl-C or SIGTERM; the partial report was written (exit 130).
    Interrupted,
}

/// Everything the gate did.
#[derive(Debug)]
pub struct GateOutcome {
    /// The decision.
    pub decision: GateDecision,
    /// One line on why (the last thing `ci-gate` prints).
    pub reason: String,
    /// The gate's checks (group `gate`), in order; empty when the run never finished.
    pub checks: Vec<CheckResult>,
    /// The run and its reports, when it got that far.
    pub suite: Option<SuiteOutcome>,
    /// Where the baseline was saved, with `update_baseline`.
    pub baseline_saved: Option<PathBuf>,
}

impl GateOutcome {
    pub(crate) fn without_run(decision: GateDecision, reason: String) -> Self {
        Self {
            decision,
            reason,
            checks: Vec::new(),
            suite: None,
            baseline_saved: None,
        }
    }
}

/// The gate's time budget: cancels the run a little before it ends, so the partial report
/// is written in time, and remembers that it did (an interruption from outside is not the
/// budget running out).
#[derive(Debug, Clone)]
pub struct Budget {
    ran_out: Arc<AtomicBool>,
    budget: Duration,
}

impl Budget {
    /// Starts the budget's clock (tokio's, so a paused clock drives it in tests); it
    /// cancels `cancel` at `budget − min(0.5 s, budget / 4)`.
    pub fn start(budget: Duration, cancel: CancellationToken) -> Self {
        let ran_out = Arc::new(AtomicBool::new(false));
        let stop_at = budget.saturating_sub(Duration::from_millis(500).min(budget / 4));
        let flag = ran_out.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(stop_at) => {
                    flag.store(true, Ordering::SeqCst);
                    cancel.cancel();
                }
                _ = cancel.cancelled() => {}
            }
        });
        Self { ran_out, budget }
    }

    /// Whether the budget, rather than anything else, stopped the run.
    pub fn ran_out(&self) -> bool {
        self.ran_out.load(Ordering::SeqCst)
    }

    /// The budget.
    pub fn duration(&self) -> Duration {
        self.budget
    }
}

/// Runs the gate on `config` (already shaped by [`GateRequest::shape`]), sending progress
/// (the gate's checks included, as each is decided) to `events` when given. Cancelling
/// `cancel` (Ctrl-C, SIGTERM) stops it with a partial report and [`GateDecision::Interrupted`].
pub async fn run_gate(
    config: &Config,
    request: &GateRequest,
    events: Option<UnboundedSender<SuiteEvent>>,
    cancel: CancellationToken,
) -> GateOutcome {
    if let Err(e) = request.refuse_conflicts(config, false) {
        return GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string());
    }
    let started = tokio::time::Instant::now();
    let budget = Budget::start(request.budget, cancel.clone());
    let options = GateOptions {
        on_inconclusive: request.on_inconclusive,
        resources: config.resource_limits.clone(),
        update_baseline: request.update_baseline,
    };
    let note_budget = budget.clone();
    let check_events = events.clone();
    let events_for_capacity = events.clone();
    // The gate's checks and the budget note go into the result before the reports are
    // written, so the reports are written once and hold everything.
    // A shard's figures are a slice of the test: the gate decides on their merge
    // (`ci-gate --merge`), so a shard only runs and reports.
    let sharded = !config.shard.is_whole();
    let add_gate_checks = move |result: &mut RunResult| {
        if sharded {
            return;
        }
        if result.interrupted && note_budget.ran_out() {
            result.notes.push(format!(
                "the {:.0} s budget ran out after {:.1} s: the checks below cover the partial run",
                note_budget.duration().as_secs_f64(),
                started.elapsed().as_secs_f64()
            ));
        }
        let checks = gate_checks(result, &options);
        if let Some(tx) = &check_events {
            for c in &checks {
                let _ = tx.send(SuiteEvent::Check(c.clone()));
            }
        }
        result.checks.extend(checks);
    };
    // The cancellation ends phase 4 in time; this is the backstop for a phase that cannot
    // be cancelled (a slow database generation, a hung target start).
    let hard_stop = request.budget.saturating_add(Duration::from_secs(2));
    let outcome = tokio::time::timeout(
        hard_stop,
        crate::run_suite_amending(config, events, cancel.clone(), add_gate_checks),
    )
    .await;
    let suite = match outcome {
        Ok(Ok(o)) => o,
        Err(_) => {
            return GateOutcome::without_run(
                GateDecision::Blocked,
                format!(
                    "the {:.0} s budget ran out before the run could finish; no report was written",
                    request.budget.as_secs_f64()
                ),
            )
        }
        Ok(Err(SuiteError::StrictBaselineMissing { name, path })) => {
            return GateOutcome::without_run(
                GateDecision::CouldNotRun,
                strict_missing_message(&name, &path),
            )
        }
        // Ctrl-C or SIGTERM before the first query: nothing ran, and that is an
        // interruption (130), not a gate that could not run.
        Ok(Err(e @ SuiteError::Interrupted { .. })) => {
            return GateOutcome::without_run(GateDecision::Interrupted, e.to_string())
        }
        Ok(Err(e)) => return GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string()),
    };
    if !suite.problems.is_empty() {
        let mut out = GateOutcome::without_run(
            GateDecision::CouldNotRun,
            format!(
                "the run stopped on an error (its partial report was written): {}",
                suite.problems.join("; ")
            ),
        );
        out.checks = gate_checks_of(&suite.result);
        out.suite = Some(suite);
        return out;
    }
    let budget_ran_out = suite.result.interrupted && budget.ran_out();
    let (mut decision, mut reason) = if sharded && !suite.result.interrupted {
        (
            GateDecision::Deploy,
            format!(
                "shard {} ran; the gate decides on the merge of the shards (ci-gate --merge DIR...)",
                config.shard
            ),
        )
    } else {
        decide(&suite.result, config, budget_ran_out, request.budget)
    };
    let mut checks = gate_checks_of(&suite.result);
    let mut capacity_found = None;
    let search = request.min_capacity.is_some() || request.capacity;
    if let (true, GateDecision::Deploy | GateDecision::Blocked, false) = (search, decision, sharded)
    {
        // What is left of the budget, minus the margin the budget keeps for reports and
        // a second more: the search's own deadline then comes before the gate's budget
        // cancels it, so a search cut short answers with what it knows ("the budget ran
        // out before the next probe") instead of "cancelled".
        let left = request
            .budget
            .saturating_sub(started.elapsed())
            .saturating_sub(Duration::from_millis(1_500));
        // The search answers by its own deadline; this backstop holds the budget for a
        // probe that cannot be cancelled.
        let backstop = request
            .budget
            .saturating_sub(started.elapsed())
            .saturating_add(Duration::from_secs(2));
        let searched = tokio::time::timeout(
            backstop,
            gate_capacity(config, request, left, cancel.clone()),
        )
        .await;
        // Stopped during the search (Ctrl-C, SIGTERM, the budget): the search's answer
        // is "cancelled", not the bot's capacity, so it decides nothing, the report says
        // interrupted, and no baseline is saved (one without its capacity would let the
        // next `--capacity` gate pass with "nothing stored").
        let searched = match searched {
            Ok(found) if !cancel.is_cancelled() => found,
            stopped => {
                let ran_out = stopped.is_err() || budget.ran_out();
                return stopped_in_search(config, request, suite, checks, ran_out, started);
            }
        };
        let (capacity_checks, found) = searched;
        capacity_found = found;
        for check in capacity_checks {
            if let Some(tx) = &events_for_capacity {
                let _ = tx.send(SuiteEvent::Check(check.clone()));
            }
            if check.failed() && decision == GateDecision::Deploy {
                decision = GateDecision::Blocked;
                reason = check.reason.clone();
            }
            checks.push(check);
        }
    }
    // Saved after the capacity search, so that the capacity it found goes with it (and
    // the comparison above was with the old baseline's).
    let mut baseline_saved = None;
    if request.update_baseline && !suite.result.interrupted {
        let name = &config.performance_baselines.baseline_name;
        // With the capacity the search found (none when no search ran or it found none:
        // a new reference's capacity is not the old one's).
        let replace = perf_baseline::WriteMode::Replace;
        match crate::pipeline::save_baseline_with(
            config,
            name,
            &suite.result,
            replace,
            capacity_found,
        ) {
            Ok(path) => baseline_saved = Some(path),
            Err(e) => {
                let mut out = GateOutcome::without_run(GateDecision::CouldNotRun, e.to_string());
                out.checks = checks;
                out.suite = Some(suite);
                return out;
            }
        }
    }
    GateOutcome {
        decision,
        reason,
        checks,
        suite: Some(suite),
        baseline_saved,
    }
}

/// The gate stopped during its capacity search: [`GateDecision::Interrupted`] (exit
/// 130), or [`GateDecision::Blocked`] with the budget's reason when the budget ran out;
/// the reports are written again with the result marked interrupted; no baseline.
fn stopped_in_search(
    config: &Config,
    request: &GateRequest,
    mut suite: SuiteOutcome,
    checks: Vec<CheckResult>,
    ran_out: bool,
    started: tokio::time::Instant,
) -> GateOutcome {
    let (decision, mut reason) = if ran_out {
        (
            GateDecision::Blocked,
            format!(
                "the {:.0} s budget ran out during the capacity search, before the checks could decide",
                request.budget.as_secs_f64()
            ),
        )
    } else {
        (
            GateDecision::Interrupted,
            "interrupted during the capacity search: the partial report covers what ran".to_owned(),
        )
    };
    if request.update_baseline {
        reason.push_str("; the baseline was not saved");
    }
    suite.result.interrupted = true;
    suite.result.notes.push(format!(
        "{} after {:.1} s: no capacity was found, and the checks above do not decide the gate",
        if ran_out {
            "the budget ran out during the capacity search"
        } else {
            "interrupted during the capacity search"
        },
        started.elapsed().as_secs_f64()
    ));
    match perf_report::write_run_reports(&suite.result, &config.output_dir) {
        Ok(paths) => suite.reports = paths,
        Err(e) => reason.push_str(&format!("; the reports could not be updated: {e}")),
    }
    GateOutcome {
        decision,
        reason,
        checks,
        suite: Some(suite),
        baseline_saved: None,
    }
}

/// The gate's capacity search and its checks: `capacity` (with `min_capacity`) and
/// `capacity_baseline` (with `capacity`); also the capacity to store with the baseline,
/// when one was found.
async fn gate_capacity(
    config: &Config,
    request: &GateRequest,
    budget: Duration,
    cancel: CancellationToken,
) -> (Vec<CheckResult>, Option<perf_baseline::BaselineCapacity>) {
    let failing = |name: &str, reason: String| CheckResult {
        group: GATE_GROUP,
        name: name.to_owned(),
        status: perf_core::record::CheckStatus::from_passed(false),
        reason,
    };
    let capacity = crate::CapacityRequest {
        budget,
        ..request.capacity_search.clone()
    };
    let report = match crate::run_capacity(config, &capacity, None, cancel).await {
        Ok(o) => o.report,
        Err(e) => {
            let reason = format!("the capacity search could not run: {e}");
            let mut checks = Vec::new();
            if request.min_capacity.is_some() {
                checks.push(failing("capacity", reason.clone()));
            }
            if request.capacity {
                checks.push(failing(crate::CAPACITY_BASELINE_CHECK, reason));
            }
            return (checks, None);
        }
    };
    let mut checks = Vec::new();
    if let Some(min) = request.min_capacity {
        checks.push(crate::capacity_check(&report, min));
    }
    if request.capacity {
        let pb = &config.performance_baselines;
        let store = perf_baseline::BaselineStore::new(&pb.baselines_dir);
        let stored = match store.load(&pb.baseline_name) {
            Ok(b) => Ok(b.capacity),
            Err(perf_baseline::BaselineError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        };
        checks.push(match stored {
            Ok(stored) => crate::capacity_baseline_check(
                &report,
                stored.as_ref(),
                &pb.baseline_name,
                pb.thresholds.capacity_drop,
                request.strict_baseline && !request.update_baseline,
            ),
            Err(e) => failing(
                crate::CAPACITY_BASELINE_CHECK,
                format!("the baseline's capacity could not be read: {e}"),
            ),
        });
    }
    (checks, perf_baseline::BaselineCapacity::of(&report))
}

pub(crate) fn gate_checks_of(result: &RunResult) -> Vec<CheckResult> {
    result
        .checks
        .iter()
        .filter(|c| c.group == GATE_GROUP)
        .cloned()
        .collect()
}

/// The gate's message for a missing baseline under `--strict-baseline`: a gate baseline
/// must have the gate's query shape, so it is made by the gate.
fn strict_missing_message(name: &str, path: &std::path::Path) -> String {
    format!(
        "baseline `{name}` is missing ({}) and --strict-baseline is set; a gate baseline must have the gate's query shape: create it with `ci-gate --baseline {name} --update-baseline`",
        path.display()
    )
}

/// The decision on a finished (or stopped) gate run: strict baseline missing, then budget,
/// then interruption, then the checks.
pub fn decide(
    result: &RunResult,
    config: &Config,
    budget_ran_out: bool,
    budget: Duration,
) -> (GateDecision, String) {
    let strict_missing = config.performance_baselines.missing_baseline
        == perf_baseline::MissingBaseline::Strict
        && result.comparison.is_none()
        && result
            .checks
            .iter()
            .any(|c| c.group == perf_core::record::CheckGroup::Baseline && c.failed());
    if strict_missing {
        let name = &config.performance_baselines.baseline_name;
        return (
            GateDecision::CouldNotRun,
            format!(
                "baseline `{name}` is missing and --strict-baseline is set; a gate baseline must have the gate's query shape: create it with `ci-gate --baseline {name} --update-baseline`"
            ),
        );
    }
    if budget_ran_out {
        return (
            GateDecision::Blocked,
            format!(
                "the {:.0} s budget ran out before the checks could decide",
                budget.as_secs_f64()
            ),
        );
    }
    if result.interrupted {
        return (
            GateDecision::Interrupted,
            "interrupted: the partial report covers what ran".to_owned(),
        );
    }
    let checks = gate_checks_of(result);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name.as_str())
        .collect();
    if checks.is_empty() {
        (GateDecision::Blocked, "no gate check ran".to_owned())
    } else if failed.is_empty() {
        (GateDecision::Deploy, "passed: deploy".to_owned())
    } else {
        (
            GateDecision::Blocked,
            format!("blocked: {} failed", failed.join(", ")),
        )
    }
}

/// Cancels `cancel` on the first Ctrl-C or SIGTERM (what CI sends when a job is cancelled),
/// so a run stops scheduling, gives queries in flight their grace period and writes its
/// partial report.
pub fn cancel_on_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let terminate = async {
            #[cfg(unix)]
            {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
            #[cfg(not(unix))]
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        cancel.cancel();
    });
}

/// Appends `markdown` (a run's `summary.md`) to GitHub's job summary when
/// `GITHUB_STEP_SUMMARY` is set; does nothing elsewhere.
pub fn append_github_step_summary(markdown: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write as _;
    let Some(target) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return Ok(());
    };
    let text = std::fs::read(markdown)?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&target)?;
    f.write_all(&text)?;
    f.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_cancels_half_a_second_early_and_says_so() {
        let cancel = CancellationToken::new();
        let budget = Budget::start(Duration::from_secs(10), cancel.clone());
        tokio::time::sleep(Duration::from_millis(9_400)).await;
        assert!(!cancel.is_cancelled());
        assert!(!budget.ran_out());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(cancel.is_cancelled());
        assert!(budget.ran_out());
    }

    #[tokio::test(start_paused = true)]
    async fn an_outside_cancellation_is_not_the_budget() {
        let cancel = CancellationToken::new();
        let budget = Budget::start(Duration::from_secs(10), cancel.clone());
        tokio::time::sleep(Duration::from_secs(2)).await;
        cancel.cancel();
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(
            !budget.ran_out(),
            "Ctrl-C two seconds in is an interruption"
        );
        // A short budget stops a quarter early.
        let cancel = CancellationToken::new();
        let short = Budget::start(Duration::from_secs(1), cancel.clone());
        tokio::time::sleep(Duration::from_millis(760)).await;
        assert!(short.ran_out());
    }

    fn result_with(checks: &[(&str, &str, bool)], interrupted: bool) -> RunResult {
        let mut r = RunResult::new("r", "t", perf_core::TargetInfo::default());
        r.interrupted = interrupted;
        r.checks = checks
            .iter()
            .map(|(group, name, passed)| CheckResult {
                group: serde_json::from_value(serde_json::json!(group)).unwrap(),
                name: (*name).to_owned(),
                status: perf_core::record::CheckStatus::from_passed(*passed),
                reason: String::new(),
            })
            .collect();
        r
    }

    #[test]
    fn decisions_and_exit_codes() {
        let config = Config::default();
        let budget = Duration::from_secs(300);
        let pass = result_with(
            &[("gate", "critical_paths", true), ("gate", "x", true)],
            false,
        );
        let (d, why) = decide(&pass, &config, false, budget);
        assert_eq!((d, d.exit_code()), (GateDecision::Deploy, 0), "{why}");
        let fail = result_with(
            &[("gate", "critical_paths", false), ("gate", "x", true)],
            false,
        );
        let (d, why) = decide(&fail, &config, false, budget);
        assert_eq!((d, d.exit_code()), (GateDecision::Blocked, 1));
        assert!(why.contains("critical_paths failed"), "{why}");
        let (d, why) = decide(&pass, &config, true, budget);
        assert_eq!(d, GateDecision::Blocked);
        assert!(why.contains("300 s budget ran out"), "{why}");
        let stopped = result_with(&[("gate", "critical_paths", true)], true);
        let (d, why) = decide(&stopped, &config, false, budget);
        assert_eq!((d, d.exit_code()), (GateDecision::Interrupted, 130));
        assert!(
            why.contains("interrupted") && !why.contains("budget"),
            "{why}"
        );
        let (d, _) = decide(&result_with(&[], false), &config, false, budget);
        assert_eq!(d, GateDecision::Blocked, "no checks is no pass");
        let mut strict = Config::default();
        strict.performance_baselines.missing_baseline = perf_baseline::MissingBaseline::Strict;
        strict.performance_baselines.baseline_name = "nope".to_owned();
        let missing = result_with(&[("baseline", "nope", false), ("gate", "x", true)], false);
        let (d, why) = decide(&missing, &strict, false, budget);
        assert_eq!((d, d.exit_code()), (GateDecision::CouldNotRun, 2));
        assert!(
            why.contains("ci-gate --baseline nope --update-baseline"),
            "{why}"
        );
    }

    #[test]
    fn budgets_are_checked() {
        assert!(GateRequest::budget_from_secs(1e300).is_err());
        assert!(GateRequest::budget_from_secs(18_446_744_073_709_551_616.0).is_err());
        assert!(GateRequest::budget_from_secs(0.0).is_err());
        assert!(GateRequest::budget_from_secs(f64::NAN).is_err());
        assert_eq!(
            GateRequest::budget_from_secs(6.0).unwrap(),
            Duration::from_secs(6)
        );
    }

    #[test]
    fn the_request_shapes_the_configuration() {
        let request = GateRequest {
            baseline: Some("b".into()),
            strict_baseline: true,
            max_queries: 12,
            ..GateRequest::default()
        };
        let c = request.shape(Config::default()).unwrap();
        assert_eq!(c.query_count, 12);
        assert_eq!(c.parallel_execution.rate_limit_per_second, None);
        assert!(!c.synthetic_testing.load_testing && !c.synthetic_testing.stress_scenarios);
        assert!(c.synthetic_testing.edge_cases && !c.record_history);
        assert_eq!(c.performance_baselines.baseline_name, "b");
        // A shared history records every gate run; the local default file does not.
        let mut shared = Config::default();
        shared
            .set_history_url_flag("postgres://ci@db.example/perf")
            .unwrap();
        assert!(request.shape(shared.clone()).unwrap().record_history);
        shared.record_history = false;
        assert!(!request.shape(shared).unwrap().record_history);
        let bad = GateRequest {
            target: Some("ftp://x".into()),
            ..GateRequest::default()
        };
        assert!(bad
            .shape(Config::default())
            .unwrap_err()
            .to_string()
            .contains("--target"));
    }
}
