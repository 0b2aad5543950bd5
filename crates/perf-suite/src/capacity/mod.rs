//! Capacity search: the highest arrival rate at which the bot meets every SLO.
//!
//! [`run_capacity`] opens the configured target and the standard query mix (phases 1–2 of
//! a run), then [`capacity_search`] calibrates a start rate with a short closed loop,
//! probes open-loop rates ([`search::search`]: climb, then bisection), optionally sweeps
//! closed-loop user counts for the USL fit, and writes the reports. See
//! `docs/capacity.md`.

mod baseline;
mod knee;
mod probe;
mod search;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use perf_core::record::{
    CapacityAnswer, CapacityReport, Limit, ProbeReport, ProbeVerdict, ServiceRate, Slos, UslPoint,
};
use perf_core::{BotTarget, Query};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use baseline::{capacity_baseline_check, CAPACITY_BASELINE_CHECK};
pub use knee::knee;
pub use probe::{probe_rate, ProbeConfig};
pub use search::{search, ProbeAttempt, ProbeMode, ProbeSpec, SearchOutcome, SearchSettings};

use crate::{Config, SuiteError};

/// What a capacity search is asked: `orchestrator capacity`'s flags as data.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityRequest {
    /// Budget for the whole search (`--max-time`), calibration and sweep included.
    pub budget: Duration,
    /// Objectives overriding the configuration's, key by key.
    pub slo_overrides: Slos,
    /// Closed-loop user counts to sweep for the USL fit (`--sweep 1,2,4,8`).
    pub sweep: Vec<usize>,
    /// The first rate probed; calibrated by a short closed loop when `None`.
    pub start_rate: Option<f64>,
    /// How probes run.
    pub probe: ProbeConfig,
    /// How the search moves (its `start_rate` is replaced by the calibrated one).
    pub search: SearchSettings,
    /// Users of the calibrating closed loop.
    pub calibration_users: usize,
}

impl Default for CapacityRequest {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(180),
            slo_overrides: Slos::default(),
            sweep: Vec::new(),
            start_rate: None,
            probe: ProbeConfig::default(),
            search: SearchSettings::default(),
            calibration_users: 16,
        }
    }
}

/// The most user counts one `--sweep` may list: each is a closed-loop measurement of its
/// own, so more would not fit any budget.
pub const MAX_SWEEP_LEVELS: usize = 64;

impl CapacityRequest {
    /// Checks the request's own values, naming the flag at fault: every sweep level a
    /// whole number from 1 to [`MAX_CONCURRENT`](crate::MAX_CONCURRENT) (the
    /// users of a sweep level are tasks and connections like `max_concurrent`'s, and each
    /// level plans 16 queries per user), at most [`MAX_SWEEP_LEVELS`] of them, a positive
    /// finite start rate within the pacing bounds, and a positive budget.
    pub fn validate(&self) -> Result<(), perf_core::ConfigError> {
        use crate::config::{MAX_CONCURRENT, MAX_RATE_PER_SECOND, MIN_RATE_PER_SECOND};
        use perf_core::ConfigError as E;
        if self.budget.is_zero() {
            return Err(E::new("--max-time", "must be a positive number of seconds"));
        }
        if self.sweep.len() > MAX_SWEEP_LEVELS {
            return Err(E::new(
                "--sweep",
                format!(
                    "lists {} user counts; give at most {MAX_SWEEP_LEVELS}",
                    self.sweep.len()
                ),
            ));
        }
        if let Some(&u) = self.sweep.iter().find(|&&u| u == 0 || u > MAX_CONCURRENT) {
            return Err(E::new(
                "--sweep",
                format!(
                    "{u} users is out of range: give whole numbers from 1 to {MAX_CONCURRENT}, e.g. --sweep 1,2,4,8"
                ),
            ));
        }
        if let Some(r) = self.start_rate {
            if !(r.is_finite() && (MIN_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&r)) {
                return Err(E::new(
                    "--start-rate",
                    format!(
                        "{r} is out of range: give queries per second from {MIN_RATE_PER_SECOND} to {MAX_RATE_PER_SECOND}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The objectives of the search: the configuration's, overridden key by key. Without a
    /// success-rate objective the search uses [`DEFAULT_SUCCESS_RATE`], so a bot that
    /// fails fast never looks fast.
    pub fn effective_slos(&self, config: &Slos) -> Slos {
        let o = &self.slo_overrides;
        Slos {
            latency_p95_ms: o.latency_p95_ms.or(config.latency_p95_ms),
            latency_p99_ms: o.latency_p99_ms.or(config.latency_p99_ms),
            ttft_p95_ms: o.ttft_p95_ms.or(config.ttft_p95_ms),
            success_rate: o
                .success_rate
                .or(config.success_rate)
                .or(Some(DEFAULT_SUCCESS_RATE)),
            quality_floor: o.quality_floor.or(config.quality_floor),
        }
    }
}

/// The success-rate objective a capacity search uses when none is set: a bot that fails
/// most of its queries has no capacity, however fast it fails. Low on purpose, so that it
/// never stands in for a quality floor the user did not ask for.
pub const DEFAULT_SUCCESS_RATE: f64 = 0.5;

/// Progress of a capacity search, for a terminal or a live view.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CapacityEvent {
    /// The calibrating closed loop measured this throughput.
    Calibrated {
        /// Queries per second.
        throughput_per_s: f64,
        /// The start rate chosen from it.
        start_rate: f64,
    },
    /// A probe is starting.
    ProbeStarted {
        /// Its rate.
        rate: f64,
    },
    /// A probe finished.
    ProbeFinished(Box<ProbeReport>),
    /// A sweep level finished.
    SweepPoint(UslPoint),
    /// Something the user should hear while it waits (a slow first answer).
    Note(String),
}

/// What [`run_capacity`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityOutcome {
    /// The report (also written to `report.json`).
    pub report: CapacityReport,
    /// Where the reports were written.
    pub run_dir: PathBuf,
    /// Whether Ctrl-C or SIGTERM stopped the search (the report covers what ran).
    pub interrupted: bool,
}

/// Runs a capacity search against the configured target with the standard query mix and
/// writes `report.json`, `summary.md` and `report.html` to `<output_dir>/<run-id>/`.
pub async fn run_capacity(
    config: &Config,
    request: &CapacityRequest,
    events: Option<UnboundedSender<CapacityEvent>>,
    cancel: CancellationToken,
) -> Result<CapacityOutcome, SuiteError> {
    config.validate()?;
    config.check_scenario_paths()?;
    request.validate()?;
    let slos = request.effective_slos(&config.slos);
    slos.validate("slos.")?;
    let started_at = chrono::Utc::now();
    let run_id = crate::session::run_id(started_at, "capacity-", "", 4);
    let run_dir = config.output_dir.join(&run_id);
    let (pool, _) = perf_synth::open_or_generate(&config.database_path, &config.fixture).await?;
    let content = perf_synth::analyze_content(&pool, &config.database_path).await?;
    pool.close().await;
    // The user's own questions when `questions` is set, as in a run.
    let (queries, _, _) = crate::questions::standard_queries(config, &content)?;
    std::fs::create_dir_all(&run_dir).map_err(|source| SuiteError::Io {
        path: run_dir.clone(),
        source,
    })?;
    let waiting = |note: String| {
        if let Some(tx) = &events {
            let _ = tx.send(CapacityEvent::Note(note));
        }
    };
    let (target, _external) =
        crate::session::open_target(config, &run_dir, &cancel, &waiting).await?;
    let probe = ProbeConfig {
        query_timeout: Duration::from_secs_f64(config.query_timeout),
        seed: config.seed,
        ..request.probe
    };
    let request = CapacityRequest {
        probe,
        ..request.clone()
    };
    let mut report = capacity_search(
        target.clone(),
        &queries,
        &slos,
        &request,
        events,
        cancel.clone(),
    )
    .await;
    let _ = target.shutdown().await;
    // An objective the user did not set is said to be a default, with how to set it.
    if let Some(note) = default_success_note(&request, &config.slos) {
        report.notes.insert(0, note);
    }
    report.run_id = run_id;
    report.started_at = started_at.to_rfc3339();
    perf_report::write_capacity_reports(&run_dir, &report).map_err(|e| SuiteError::Io {
        path: run_dir.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(CapacityOutcome {
        report,
        run_dir,
        interrupted: cancel.is_cancelled(),
    })
}

/// The note of a search whose success-rate objective is [`DEFAULT_SUCCESS_RATE`] because
/// neither the request nor the configuration set one; `None` when one was set.
fn default_success_note(request: &CapacityRequest, config: &Slos) -> Option<String> {
    (request.slo_overrides.success_rate.is_none() && config.success_rate.is_none()).then(|| {
        format!(
            "objective success rate ≥ {:.0}% is the search's default (no slos.success_rate was set): it only keeps a bot that fails fast from looking fast; set your own with --success-rate or slos.success_rate",
            DEFAULT_SUCCESS_RATE * 100.0
        )
    })
}

/// The search against an open `target` with `queries` (cycled): calibration, probes,
/// sweep, knee, per-agent capacity and the USL fit. Never fails: what could not be
/// measured is said in the answer and the notes.
pub async fn capacity_search(
    target: Arc<dyn BotTarget>,
    queries: &[Query],
    slos: &Slos,
    request: &CapacityRequest,
    events: Option<UnboundedSender<CapacityEvent>>,
    cancel: CancellationToken,
) -> CapacityReport {
    let t0 = tokio::time::Instant::now();
    let deadline = t0 + request.budget;
    let budget_cancel = cancel.child_token();
    let backstop = {
        let token = budget_cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline).await;
            token.cancel();
        })
    };
    let emit = |e: CapacityEvent| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    let mut notes = Vec::new();
    let mut report = CapacityReport::new(target.describe(), *slos);

    if queries.is_empty() {
        report.stop_reason = "there are no queries to send".to_owned();
        report.summary = report.stop_reason.clone();
        return report;
    }

    // Calibration: a short closed loop gives the scale of the start rate.
    let mut calibrated = None;
    let start_rate = match request.start_rate {
        Some(r) => r,
        None => {
            let users = request.calibration_users.max(1);
            let x = probe::closed_throughput(
                &target,
                queries,
                users,
                (users * 2) as u64,
                false,
                &request.probe,
                &budget_cancel,
            )
            .await;
            match x {
                Ok(x) if x > 0.0 => {
                    // Many users keep every slot busy, so `x` is near the capacity of a
                    // bot with fewer slots than users: start a little below it and climb
                    // (a bot with more slots is found by the climb).
                    let start = x * 0.75;
                    emit(CapacityEvent::Calibrated {
                        throughput_per_s: x,
                        start_rate: start,
                    });
                    notes.push(format!(
                        "calibration: {users} users in a closed loop answered {x:.3} queries/s"
                    ));
                    calibrated = Some(x);
                    start
                }
                Err(what) if !budget_cancel.is_cancelled() => {
                    // A bot that answers nothing (hung, or failing every query) has no
                    // capacity to search for: say why at once, not "the budget was short"
                    // after minutes of probes that cannot pass.
                    backstop.abort();
                    report.answer = CapacityAnswer::NotMeasured;
                    report.stop_reason = format!(
                        "calibration answered nothing: {} queries from {users} users in a closed loop got no answer ({what}); check that the bot answers (a plain `orchestrator` run against it shows its errors)",
                        users * 2
                    );
                    report.summary = summary_sentence(&report);
                    report.notes = notes;
                    return report;
                }
                _ => {
                    notes.push(
                        "calibration answered nothing before the budget ran out; the search starts at 1 query/s".to_owned(),
                    );
                    1.0
                }
            }
        }
    };

    // Overload: arrivals above what the calibration got, to measure the service rate the
    // bot reaches when its queue never empties. It bounds the search from above. A second
    // overload probe adds answers when the first saw fewer than asked and the budget
    // leaves room for it and for a probe below the service rate.
    let mut overloads: Vec<ProbeReport> = Vec::new();
    let mut pooled: Option<ServiceRate> = None;
    let wanted = request.probe.overload_answers;
    let factor = request.probe.overload_factor;
    let overload = Overload {
        target: &target,
        queries,
        slos,
        request,
        cancel: &budget_cancel,
        deadline,
        events: events.as_ref(),
    };
    if let Some(x) = calibrated {
        // A second try when the first did not clearly overload the bot (few arrivals
        // drawn, or a bot faster than the calibration showed), above what it answered.
        // Room is kept for a probe of the search after it.
        let mut guess = x;
        for _ in 0..2 {
            let reserve = request.probe.planned_duration(guess, 1.0);
            let Some(r) = overload
                .round(guess * factor, wanted, guess, reserve, &mut notes)
                .await
            else {
                break;
            };
            guess = r.throughput_per_s;
            let measured = r.service_rate;
            overloads.push(r);
            if let Some(s) = measured {
                pooled = Some(s);
                break;
            }
        }
    }
    let settings = SearchSettings {
        start_rate,
        ceiling: pooled,
        ..request.search
    };
    let outcome = search(settings, |spec| {
        let target = target.clone();
        let cancel = budget_cancel.clone();
        let events = events.clone();
        async move {
            if cancel.is_cancelled() {
                return if tokio::time::Instant::now() >= deadline {
                    ProbeAttempt::OutOfBudget
                } else {
                    ProbeAttempt::Cancelled
                };
            }
            let planned = request
                .probe
                .planned_duration(spec.rate, spec.length_factor);
            if tokio::time::Instant::now() + planned > deadline {
                return ProbeAttempt::OutOfBudget;
            }
            if let Some(tx) = &events {
                let _ = tx.send(CapacityEvent::ProbeStarted { rate: spec.rate });
            }
            let r = probe_rate(&target, queries, slos, spec, &request.probe, &cancel).await;
            match r {
                Ok(r) if cancel.is_cancelled() && r.verdict != ProbeVerdict::Fail => {
                    // Cut short by the budget or a cancellation: not a decision.
                    if tokio::time::Instant::now() >= deadline {
                        ProbeAttempt::OutOfBudget
                    } else {
                        ProbeAttempt::Cancelled
                    }
                }
                Ok(r) => {
                    if let Some(tx) = &events {
                        let _ = tx.send(CapacityEvent::ProbeFinished(Box::new(r.clone())));
                    }
                    ProbeAttempt::Done(Box::new(r))
                }
                Err(e) => ProbeAttempt::Failed(e),
            }
        }
    })
    .await;

    // Sweep for the USL, with what is left of the budget.
    for &users in &request.sweep {
        if budget_cancel.is_cancelled() {
            notes.push(format!(
                "the sweep stopped before {users} users: the budget ran out"
            ));
            break;
        }
        let n = (users * 16).max(32) as u64;
        if let Ok(x) = probe::closed_throughput(
            &target,
            queries,
            users,
            n,
            true,
            &request.probe,
            &budget_cancel,
        )
        .await
        {
            if !budget_cancel.is_cancelled() {
                let p = UslPoint {
                    concurrency: users as f64,
                    throughput: x,
                };
                emit(CapacityEvent::SweepPoint(p));
                report.sweep.push(p);
            }
        }
    }
    let mut outcome = outcome;
    // Saturation limits: with what is left of the budget, more answers under overload
    // narrow the service rate (the capacity).
    let saturation_limits = matches!(
        (pooled, &outcome.answer),
        (Some(s), CapacityAnswer::Found { rate, .. }) if *rate == s.per_s
    );
    if let Some(s) = pooled
        .filter(|s| saturation_limits && s.completions < wanted && !budget_cancel.is_cancelled())
    {
        let confirmed = outcome
            .probes
            .iter()
            .filter(|p| p.verdict == ProbeVerdict::Pass)
            .map(|p| p.rate)
            .fold(0.0, f64::max);
        let more = overload
            .round(
                s.per_s * factor,
                wanted - s.completions,
                s.per_s,
                Duration::ZERO,
                &mut notes,
            )
            .await;
        if let Some(r) = more {
            if let Some(p) = r.service_rate.and_then(|m| s.pooled_with(&m)) {
                pooled = Some(p);
                outcome.answer = p.as_capacity();
                outcome.stop_reason = search::saturation_reason(&p, confirmed);
            }
            overloads.push(r);
        }
    }
    report.service_rate = pooled;
    backstop.abort();

    // The probes in the order they ran, said as they ran (the first may be an overload
    // probe, not the search's start rate).
    if let Some(first) = overloads.first().or(outcome.probes.first()) {
        let why = if !overloads.is_empty() {
            format!(
                "an overload probe above the calibrated throughput, to measure the service rate{}",
                match outcome.probes.first() {
                    Some(p) => format!("; the search then began at {:.3}/s", p.rate),
                    None => String::new(),
                }
            )
        } else if request.start_rate.is_some() {
            "the --start-rate given".to_owned()
        } else if calibrated.is_some() {
            "3/4 of the calibrated throughput".to_owned()
        } else {
            "the search's start".to_owned()
        };
        notes.push(format!("first probe: {:.3}/s, {why}", first.rate));
    }
    report.probes = overloads.into_iter().chain(outcome.probes).collect();
    report.answer = outcome.answer;
    report.stop_reason = outcome.stop_reason;
    report.limited_by = match (&report.answer, report.service_rate) {
        // The capacity is the service rate: saturation is what limits, whatever else the
        // overloaded probes missed on the way.
        (CapacityAnswer::Found { rate, .. }, Some(s)) if *rate == s.per_s => {
            vec![Limit::Saturated]
        }
        _ => limited_by(&report.probes),
    };
    report.knee = knee(&report.probes);
    if let CapacityAnswer::Found { rate, .. } = report.answer {
        report.per_agent_capacity = mix_shares(queries)
            .into_iter()
            .map(|(agent, share)| (agent, rate * share))
            .collect();
    }
    let (points, source) = if report.sweep.len() >= perf_baseline::MIN_USL_POINTS {
        (report.sweep.clone(), "the sweep")
    } else {
        let pts: Vec<UslPoint> = report
            .probes
            .iter()
            .filter(|p| p.mean_concurrency > 0.0 && p.throughput_per_s > 0.0)
            .map(|p| UslPoint {
                concurrency: p.mean_concurrency,
                throughput: p.throughput_per_s,
            })
            .collect();
        (pts, "the probes (concurrency by Little's law)")
    };
    match perf_baseline::fit_usl(&points) {
        Ok(fit) => {
            notes.push(format!("the USL was fitted to {source}"));
            report.usl = Some(fit);
        }
        Err(e) => report.usl_refused = Some(format!("no USL fit from {source}: {e}")),
    }
    report.slots_fit = perf_baseline::fit_slots(&points).ok();
    report.preferred_model = preferred_model(report.usl.as_ref(), report.slots_fit.as_ref());
    report.summary = summary_sentence(&report);
    report.wall_time_s = t0.elapsed().as_secs_f64();
    report.notes = notes;
    report
}

/// The model to predict with, and why: the one whose held-out prediction was closer, or,
/// without held-out points, the one with the larger R².
fn preferred_model(
    usl: Option<&perf_core::record::UslFit>,
    slots: Option<&perf_core::record::SlotsFit>,
) -> Option<String> {
    match (usl, slots) {
        (None, None) => None,
        (Some(_), None) => Some("usl: the only model fitted".to_owned()),
        (None, Some(_)) => Some("slots: the only model fitted".to_owned()),
        (Some(u), Some(s)) => Some(match (u.holdout, s.holdout) {
            (Some(hu), Some(hs)) => {
                let (name, (a, b)) = if hs.relative_error < hu.relative_error {
                    ("slots", (hs.relative_error, hu.relative_error))
                } else {
                    ("usl", (hu.relative_error, hs.relative_error))
                };
                format!(
                    "{name}: its held-out error was {:.1}% against {:.1}%",
                    a * 100.0,
                    b * 100.0
                )
            }
            _ if s.r_squared > u.r_squared => format!(
                "slots: R² {:.3} against {:.3} (no held-out point)",
                s.r_squared, u.r_squared
            ),
            _ => format!(
                "usl: R² {:.3} against {:.3} (no held-out point)",
                u.r_squared, s.r_squared
            ),
        }),
    }
}

/// What an overload probe needs: the target and the search's budget.
struct Overload<'a> {
    target: &'a Arc<dyn BotTarget>,
    queries: &'a [Query],
    slos: &'a Slos,
    request: &'a CapacityRequest,
    cancel: &'a CancellationToken,
    deadline: tokio::time::Instant,
    events: Option<&'a UnboundedSender<CapacityEvent>>,
}

impl Overload<'_> {
    /// One overload probe at `rate`, long enough to see `answers` completed from a bot
    /// serving about `service`/s, when it fits in the budget with `reserve` left after it;
    /// `None` (with a note) when it does not fit or could not run.
    async fn round(
        &self,
        rate: f64,
        answers: u64,
        service: f64,
        reserve: Duration,
        notes: &mut Vec<String>,
    ) -> Option<ProbeReport> {
        let probe = &self.request.probe;
        let factor = rate / service.max(1e-9);
        let duration = probe.overload_duration(service, factor, answers);
        // Arrivals, then the drain of the queue they leave (a quarter more for the tail of
        // the service times).
        let needs = duration.mul_f64(factor * 1.25) + reserve;
        let left = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        if needs > left || self.cancel.is_cancelled() {
            notes.push(format!(
                "an overload probe was not run: it needs about {:.0} s and {:.0} s are left",
                needs.as_secs_f64(),
                left.as_secs_f64()
            ));
            return None;
        }
        let spec = ProbeSpec {
            rate,
            length_factor: 1.0,
            mode: ProbeMode::Overload { duration },
        };
        if let Some(tx) = self.events {
            let _ = tx.send(CapacityEvent::ProbeStarted { rate });
        }
        let r = match probe_rate(
            self.target,
            self.queries,
            self.slos,
            spec,
            probe,
            self.cancel,
        )
        .await
        {
            Ok(r) if !self.cancel.is_cancelled() => r,
            Ok(_) => return None,
            Err(e) => {
                notes.push(format!("an overload probe could not run: {e}"));
                return None;
            }
        };
        if let Some(tx) = self.events {
            let _ = tx.send(CapacityEvent::ProbeFinished(Box::new(r.clone())));
        }
        notes.push(match r.service_rate {
            Some(s) => format!(
                "overload at {rate:.3}/s for {:.0} s: the bot completed {} answers in {:.0} s while its queue could not empty ({:.3}/s)",
                duration.as_secs_f64(),
                s.completions,
                s.window_s,
                s.per_s
            ),
            None => format!(
                "overload at {rate:.3}/s: the queue did not clearly grow, so no service rate was measured"
            ),
        });
        Some(r)
    }
}

/// The gate's capacity check (group `gate`, name `capacity`): passes when a rate of at
/// least `min_per_s` met every SLO. The reason carries the interval the search found; no
/// capacity (no rate meets the SLOs, indeterminate, not measured) blocks with its reason.
pub fn capacity_check(report: &CapacityReport, min_per_s: f64) -> perf_core::record::CheckResult {
    let (passed, reason) = match &report.answer {
        CapacityAnswer::Found { rate, low, high } => {
            let interval = match high {
                Some(h) => format!("between {low:.3} and {h:.3}/s"),
                None => format!("at least {rate:.3}/s: no rate tried failed"),
            };
            if *rate >= min_per_s {
                (
                    true,
                    format!("capacity {rate:.3}/s ({interval}) meets the minimum {min_per_s:.3}/s"),
                )
            } else {
                let limits = report
                    .limited_by
                    .iter()
                    .map(|l| l.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    false,
                    format!(
                        "capacity {rate:.3}/s ({interval}) is below the minimum {min_per_s:.3}/s; what failed first: {}",
                        if limits.is_empty() { "unknown" } else { &limits }
                    ),
                )
            }
        }
        _ => (
            false,
            format!(
                "no capacity of at least {min_per_s:.3}/s was shown: {}",
                report.summary
            ),
        ),
    };
    perf_core::record::CheckResult {
        group: crate::GATE_GROUP,
        name: "capacity".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(passed),
        reason,
    }
}

/// The failures at the lowest failing rate, worst first.
fn limited_by(probes: &[ProbeReport]) -> Vec<Limit> {
    probes
        .iter()
        .filter(|p| p.verdict == ProbeVerdict::Fail)
        .min_by(|a, b| a.rate.total_cmp(&b.rate))
        .map(|p| p.failed.clone())
        .unwrap_or_default()
}

/// Each expected agent's share of the query mix.
fn mix_shares(queries: &[Query]) -> BTreeMap<String, f64> {
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for q in queries {
        let agent = q.expected_agent.as_deref().unwrap_or("unrouted");
        *counts.entry(agent.to_owned()).or_default() += 1.0;
    }
    let n = queries.len() as f64;
    counts.values_mut().for_each(|c| *c /= n);
    counts
}

/// One sentence: the capacity with its interval and what limits it, or why there is none.
fn summary_sentence(r: &CapacityReport) -> String {
    let limits = if r.limited_by.is_empty() {
        String::new()
    } else {
        format!(
            "; what failed first: {}",
            r.limited_by
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match &r.answer {
        CapacityAnswer::Found {
            rate,
            low,
            high: Some(h),
        } => format!("capacity {rate:.3} queries/s (between {low:.3} and {h:.3}){limits}"),
        CapacityAnswer::Found {
            rate, high: None, ..
        } => {
            format!(
                "capacity at least {rate:.3} queries/s (every rate tried up to {rate:.3}/s met the SLOs; give a longer --max-time to find the limit)"
            )
        }
        CapacityAnswer::Indeterminate { low, high } => match (low, high) {
            (Some(l), None) => format!(
                "capacity at least {l:.3} queries/s (every rate tried up to {l:.3}/s met the SLOs, the limit was not found: {}; give a longer --max-time to find it)",
                r.stop_reason
            ),
            (Some(l), Some(h)) => format!(
                "capacity between {l:.3} and {h:.3} queries/s, not decided: {}",
                r.stop_reason
            ),
            (None, Some(h)) => format!(
                "capacity below {h:.3} queries/s (the lowest rate that finished failed), not decided: {}",
                r.stop_reason
            ),
            (None, None) => format!(
                "capacity not decided: no probe finished ({})",
                r.stop_reason
            ),
        },
        CapacityAnswer::NoRateMeets { lowest_rate } => {
            let at = r.probes.iter().rfind(|p| p.rate == *lowest_rate);
            let detail = at.map(probe_detail).unwrap_or_default();
            format!(
                "no rate meets the SLOs; at the lowest rate tried ({lowest_rate:.3}/s), {detail}{limits}"
            )
        }
        CapacityAnswer::NotMeasured => format!("capacity not measured: {}", r.stop_reason),
    }
}

/// "p95 was 2300 ms (objective 2000 ms), success rate 0.00 (objective 0.95)".
fn probe_detail(p: &ProbeReport) -> String {
    let parts: Vec<String> = p
        .checks
        .iter()
        .map(|c| {
            let measured = match c.measured {
                Some(m) if c.slo.is_latency() => format!("{m:.0} ms"),
                Some(m) => format!("{m:.2}"),
                None => "unmeasured".to_owned(),
            };
            let target = if c.slo.is_latency() {
                format!("{:.0} ms", c.target)
            } else {
                format!("{:.2}", c.target)
            };
            format!("{} was {measured} (objective {target})", c.slo.key())
        })
        .collect();
    let mut s = parts.join(", ");
    if p.failed.contains(&Limit::Saturated) {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str("and latency kept growing (saturated)");
    }
    s
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_success_objective_nobody_set_is_said_to_be_the_default() {
        let none = CapacityRequest::default();
        let note = super::default_success_note(&none, &Slos::default()).expect("a note");
        assert!(note.contains("≥ 50% is the search's default"), "{note}");
        let set = Slos {
            success_rate: Some(0.99),
            ..Slos::default()
        };
        assert_eq!(super::default_success_note(&none, &set), None);
        let flag = CapacityRequest {
            slo_overrides: set,
            ..CapacityRequest::default()
        };
        assert_eq!(super::default_success_note(&flag, &Slos::default()), None);
    }

    use super::*;
    use perf_core::TargetInfo;

    fn report(answer: CapacityAnswer) -> CapacityReport {
        CapacityReport {
            answer,
            stop_reason: "why".into(),
            summary: "no rate meets the SLOs; at the lowest rate tried ...".into(),
            limited_by: vec![Limit::LatencyP95],
            ..CapacityReport::new(TargetInfo::default(), Slos::default())
        }
    }

    #[test]
    fn an_undecided_search_is_said_in_plain_words() {
        let say =
            |low, high| summary_sentence(&report(CapacityAnswer::Indeterminate { low, high }));
        let at_least = say(Some(121.8), None);
        assert!(
            at_least.starts_with("capacity at least 121.800 queries/s (every rate tried up to 121.800/s met the SLOs"),
            "{at_least}"
        );
        assert!(at_least.contains("longer --max-time"), "{at_least}");
        let nothing = say(None, None);
        assert!(nothing.contains("no probe finished"), "{nothing}");
        for s in [
            at_least,
            nothing,
            say(Some(1.0), Some(2.0)),
            say(None, Some(2.0)),
        ] {
            assert!(!s.contains("none") && !s.contains("indeterminate"), "{s}");
        }
    }

    #[test]
    fn the_capacity_check_passes_at_or_above_the_minimum_and_names_the_interval() {
        let found = report(CapacityAnswer::Found {
            rate: 2.0,
            low: 2.0,
            high: Some(2.15),
        });
        let ok = capacity_check(&found, 1.5);
        assert!(ok.passed(), "{}", ok.reason);
        assert!(
            ok.reason.contains("between 2.000 and 2.150/s"),
            "{}",
            ok.reason
        );
        let low = capacity_check(&found, 2.1);
        assert!(!low.passed());
        assert!(
            low.reason.contains("below the minimum 2.100/s") && low.reason.contains("latency_p95"),
            "{}",
            low.reason
        );
        let none = capacity_check(
            &report(CapacityAnswer::NoRateMeets { lowest_rate: 0.5 }),
            0.1,
        );
        assert!(
            !none.passed() && none.reason.contains("no rate meets"),
            "{}",
            none.reason
        );
        let undecided = capacity_check(
            &report(CapacityAnswer::Indeterminate {
                low: Some(1.0),
                high: None,
            }),
            0.5,
        );
        assert!(!undecided.passed(), "an undecided search shows no capacity");
    }

    fn probe(rate: f64, tput: f64) -> ProbeReport {
        ProbeReport {
            count: 1,
            throughput_per_s: tput,
            goodput_per_s: tput,
            mean_concurrency: 1.0,
            ..ProbeReport::new(rate, 1.0, ProbeVerdict::Pass)
        }
    }

    #[test]
    fn the_knee_is_where_throughput_stops_following_the_load() {
        let probes: Vec<ProbeReport> = [1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0]
            .into_iter()
            .map(|r: f64| probe(r, r.min(6.0)))
            .collect();
        let k = knee(&probes).expect("a clear knee");
        assert!((k.offered_per_s - 6.0).abs() < 0.3, "{k:?}");
        assert!(
            (k.slope_below - 1.0).abs() < 0.05 && k.slope_above.abs() < 0.05,
            "{k:?}"
        );
        let linear: Vec<ProbeReport> = [1.0, 2.0, 4.0, 8.0]
            .into_iter()
            .map(|r| probe(r, r))
            .collect();
        assert_eq!(knee(&linear), None, "no knee while every arrival is served");
    }
}
