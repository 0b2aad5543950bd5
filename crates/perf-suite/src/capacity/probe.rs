//! One open-loop probe: Poisson arrivals at a fixed rate for long enough to state the
//! latency p95 with a 95% interval, stopped early when a queue clearly keeps growing, and
//! judged against every objective with its interval.

use std::sync::Arc;
use std::time::Duration;

use perf_core::record::{
    AgentProbe, GoodputTally, Limit, ProbeReport, ProbeVerdict, RunResult, ServiceRate, SloKind,
    Slos,
};
use perf_core::{
    Arrival, BotTarget, LatencyHistogram, LoadProfile, OpenLoop, Outcome, Query, Stage, TargetInfo,
};
use perf_runner::{Plan, RunEvent, Runner, RunnerConfig};
use tokio_util::sync::CancellationToken;

use super::{ProbeMode, ProbeSpec};

/// How probes run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeConfig {
    /// Arrivals a probe plans at least: 40 gives a p95 whose 95% order-statistic interval
    /// spans about the p88–p100 ranks: enough to tell a clear pass or miss, and what is
    /// too close to call is retried with twice the arrivals.
    pub min_queries: u64,
    /// Shortest probe.
    pub min_duration: Duration,
    /// Longest probe (before a retry's length factor).
    pub max_duration: Duration,
    /// Time one query may take.
    pub query_timeout: Duration,
    /// Seed of the arrival gaps (mixed with the rate).
    pub seed: u64,
    /// Queries in flight at most; beyond it arrivals are shed and count as misses.
    pub max_in_flight: usize,
    /// The overload probe's rate, as a multiple of the calibrated throughput (a second
    /// one, when needed, of the service rate the first measured).
    pub overload_factor: f64,
    /// Answers the overload probes aim to see completed in their windows, together: the
    /// service rate's standard error is about `sqrt(cv² / answers)` of it (cv: the service
    /// time's coefficient of variation); 160 gives about 4% for a log-normal with σ = 0.5.
    pub overload_answers: u64,
    /// Longest overload probe.
    pub max_overload: Duration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            min_queries: 40,
            min_duration: Duration::from_secs(5),
            max_duration: Duration::from_secs(40),
            query_timeout: Duration::from_secs(30),
            seed: 42,
            max_in_flight: 10_000,
            overload_factor: 1.75,
            overload_answers: 160,
            max_overload: Duration::from_secs(60),
        }
    }
}

impl ProbeConfig {
    /// How long an overload probe at `factor` × `service` (the service rate, or a guess
    /// of it) sends arrivals to see `answers` completed in its window (which runs from a
    /// sixth of the arrivals into the drain: about `5/6 · factor` of the arrival time),
    /// within `[min_duration, max_overload]` and short enough that the last arrivals wait
    /// at most 80% of the query timeout.
    pub fn overload_duration(&self, service: f64, factor: f64, answers: u64) -> Duration {
        let secs = if service > 0.0 {
            answers as f64 / (service * factor * 5.0 / 6.0)
        } else {
            f64::INFINITY
        };
        let by_timeout = 0.8 * self.query_timeout.as_secs_f64() / (factor - 1.0).max(0.1);
        let secs = secs.min(by_timeout).clamp(
            self.min_duration.as_secs_f64(),
            self.max_overload
                .as_secs_f64()
                .max(self.min_duration.as_secs_f64()),
        );
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_overload)
    }

    /// How long a probe at `rate` sends arrivals: `min_queries / rate` within
    /// `[min_duration, max_duration]`, times `length_factor`.
    pub fn planned_duration(&self, rate: f64, length_factor: f64) -> Duration {
        let secs = if rate > 0.0 {
            self.min_queries as f64 / rate
        } else {
            f64::INFINITY
        };
        let secs = secs.clamp(
            self.min_duration.as_secs_f64(),
            self.max_duration.as_secs_f64(),
        ) * length_factor.max(1.0);
        Duration::try_from_secs_f64(secs).unwrap_or(self.max_duration)
    }

    fn runner(&self, target: &Arc<dyn BotTarget>, salt: u64) -> Runner {
        Runner::new(
            target.clone(),
            RunnerConfig {
                query_timeout: self.query_timeout,
                // A probe cut short (saturated, budget) stops at once: what is still in
                // flight is not counted.
                grace_period: Duration::ZERO,
                sample_events: true,
                seed: self.seed ^ salt,
                ..RunnerConfig::default()
            },
        )
    }
}

/// `n` queries cycled from `queries`, each with an id of its own (the reference bot
/// seeds its service time by the id), tagged by `tag`.
fn unique_queries(queries: &[Query], n: u64, tag: &str) -> Vec<Query> {
    (0..n as usize)
        .map(|k| {
            let mut q = queries[k % queries.len()].clone();
            q.id = format!("{}#{tag}-{k}", q.id);
            q
        })
        .collect()
}

/// Least-squares slope of latency against arrival time, folded as samples arrive.
#[derive(Debug, Default, Clone, Copy)]
struct Slope {
    n: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    sxy: f64,
    syy: f64,
    first_x: Option<f64>,
    last_x: f64,
}

impl Slope {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.sx += x;
        self.sy += y;
        self.sxx += x * x;
        self.sxy += x * y;
        self.syy += y * y;
        self.first_x.get_or_insert(x);
        self.last_x = self.last_x.max(x);
    }

    /// (slope, t statistic), with three points or more.
    fn fit(&self) -> Option<(f64, f64)> {
        if self.n < 3.0 {
            return None;
        }
        let cxx = self.sxx - self.sx * self.sx / self.n;
        let cxy = self.sxy - self.sx * self.sy / self.n;
        let cyy = self.syy - self.sy * self.sy / self.n;
        if cxx <= 0.0 {
            return None;
        }
        let b = cxy / cxx;
        let ssr = (cyy - b * cxy).max(0.0);
        let se = (ssr / (self.n - 2.0) / cxx).sqrt();
        let t = if se > 0.0 { b / se } else { f64::INFINITY };
        Some((b, t))
    }

    fn span(&self) -> f64 {
        self.last_x - self.first_x.unwrap_or(self.last_x)
    }
}

/// Latency gained per second of arrivals beyond which a probe is saturated at its end
/// (second half of the arrivals, t > 3), and, with t > 5 after a quarter of the probe,
/// stopped early.
const SATURATED_SLOPE: f64 = 0.1;
const EARLY_STOP_SLOPE: f64 = 0.3;

/// Runs one probe at `spec.rate` and judges it against `slos`.
pub async fn probe_rate(
    target: &Arc<dyn BotTarget>,
    queries: &[Query],
    slos: &Slos,
    spec: ProbeSpec,
    cfg: &ProbeConfig,
    cancel: &CancellationToken,
) -> Result<ProbeReport, String> {
    if queries.is_empty() {
        return Err("no queries to send".to_owned());
    }
    let overload = matches!(spec.mode, ProbeMode::Overload { .. });
    let duration = match spec.mode {
        ProbeMode::Overload { duration } => duration,
        _ => cfg.planned_duration(spec.rate, spec.length_factor),
    };
    let arrivals = (spec.rate * duration.as_secs_f64()).ceil() as u64 + 1;
    let tag = format!("r{:.4}x{}", spec.rate, spec.length_factor);
    let plan = Plan::new(
        unique_queries(queries, arrivals, &tag),
        LoadProfile::Open(OpenLoop {
            stages: vec![Stage::constant(spec.rate, duration)],
            arrival: Arrival::Poisson,
            max_in_flight: cfg.max_in_flight,
        }),
    );
    let probe_cancel = cancel.child_token();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = cfg
        .runner(target, spec.rate.to_bits())
        .with_events(tx)
        .with_cancel(probe_cancel.clone());
    let mut result = RunResult::new("probe", "", TargetInfo::default());
    result.goodput = Some(GoodputTally::new(slos));
    let quarter = duration.as_secs_f64() / 4.0;
    let watch = {
        let probe_cancel = probe_cancel.clone();
        async move {
            let mut slope = Slope::default();
            // The end-of-probe test reads the second half only: the first half holds
            // the queue filling from empty, which grows below capacity too.
            let mut late = Slope::default();
            let half = duration.as_secs_f64() / 2.0;
            let mut stopped = false;
            // Completion times of the answers, for the service rate of an overload probe.
            let mut completions = Vec::new();
            while let Some(ev) = rx.recv().await {
                let RunEvent::Sample(s) = ev else { continue };
                if s.outcome == Outcome::Dropped {
                    continue;
                }
                let (x, y) = (s.scheduled_at_us as f64 / 1e6, s.latency_us as f64 / 1e6);
                if overload {
                    completions.push(Done {
                        arrival: x,
                        end: x + y,
                        answered: matches!(s.outcome, Outcome::Ok | Outcome::FailedExpectation),
                        timed_out: s.outcome == Outcome::Timeout,
                    });
                }
                slope.add(x, y);
                if x >= half {
                    late.add(x, y);
                }
                if spec.mode == ProbeMode::Judge
                    && !stopped
                    && slope.n >= 30.0
                    && slope.span() >= quarter
                {
                    if let Some((b, t)) = slope.fit() {
                        if b > EARLY_STOP_SLOPE && t > 5.0 {
                            stopped = true;
                            probe_cancel.cancel();
                        }
                    }
                }
            }
            (slope, late, stopped, completions)
        }
    };
    let run = async {
        let r = runner.run(&plan, &mut result).await;
        drop(runner);
        r
    };
    let (ran, (slope, late, stopped, queries)) = tokio::join!(run, watch);
    ran.map_err(|e| e.to_string())?;
    let service = if overload && !cancel.is_cancelled() {
        service_rate(&queries, duration.as_secs_f64())
    } else {
        None
    };
    Ok(judge(&result, slos, spec, slope, late, stopped, service))
}

/// One query of an overload probe, seconds from its start.
#[derive(Debug, Clone, Copy)]
struct Done {
    arrival: f64,
    end: f64,
    answered: bool,
    timed_out: bool,
}

/// The service rate of an overload probe that sent arrivals for `duration` seconds, from
/// its queries' times: the answers completed per second while the queue could not empty.
/// The window opens at a sixth of the arrivals (the slots are full and a queue has
/// started) and closes, after the arrivals ended, when the queries in flight fall back to
/// as many as at its opening: in between, at least as many queries waited as when the
/// bot was already busy. It closes earlier at the first timeout: a query given up in
/// service wastes the bot's time, which would pull the rate down. `None` unless the
/// queries in flight grew over the arrivals by more than two Poisson standard deviations
/// of the arrivals (a bot that kept up was not overloaded), or when the window is empty.
fn service_rate(queries: &[Done], duration: f64) -> Option<ServiceRate> {
    let from = duration / 6.0;
    let in_flight = |t: f64| {
        queries
            .iter()
            .filter(|q| q.arrival <= t && t < q.end)
            .count()
    };
    let at_open = in_flight(from);
    let arrivals = queries
        .iter()
        .filter(|q| q.arrival > from && q.arrival <= duration)
        .count() as f64;
    let grown = in_flight(duration) as f64 - at_open as f64;
    if grown <= 2.0 * arrivals.sqrt() {
        return None;
    }
    let mut ends: Vec<f64> = queries
        .iter()
        .map(|q| q.end)
        .filter(|&c| c >= duration)
        .collect();
    ends.sort_by(f64::total_cmp);
    let drained = ends
        .into_iter()
        .find(|&c| in_flight(c) <= at_open)
        .unwrap_or(duration);
    let first_timeout = queries
        .iter()
        .filter(|q| q.timed_out)
        .map(|q| q.end)
        .fold(f64::INFINITY, f64::min);
    let close = drained.min(first_timeout);
    if close <= from {
        return None;
    }
    let done = queries
        .iter()
        .filter(|q| q.answered && q.end > from && q.end <= close)
        .count() as u64;
    ServiceRate::from_count(done, close - from)
}

/// The throughput of `users` in a closed loop sending `n` queries. `steady`: while every
/// user is active, answers per second up to the `n − users`-th completion (after it,
/// users run out of queries one by one and the bot idles, which would pull the figure
/// down by an amount that depends on `users`: the sweep's levels must be comparable).
/// Otherwise, and when `n ≤ users`: answers over the whole run, which the tail pulls a
/// little low (the calibration wants that: it only sets the scale of the probes). `None` when
/// nothing was answered or the run was cancelled before anything was.
pub(super) async fn closed_throughput(
    target: &Arc<dyn BotTarget>,
    queries: &[Query],
    users: usize,
    n: u64,
    steady: bool,
    cfg: &ProbeConfig,
    cancel: &CancellationToken,
) -> Result<f64, String> {
    if queries.is_empty() {
        return Err("there are no queries to send".to_owned());
    }
    let plan = Plan::new(
        unique_queries(queries, n, &format!("u{users}")),
        LoadProfile::closed(users.max(1), None),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = cfg
        .runner(target, users as u64)
        .with_events(tx)
        .with_cancel(cancel.child_token());
    let mut result = RunResult::new("closed", "", TargetInfo::default());
    let watch = async move {
        let mut done = Vec::new();
        while let Some(ev) = rx.recv().await {
            if let RunEvent::Sample(s) = ev {
                let answered = matches!(s.outcome, Outcome::Ok | Outcome::FailedExpectation);
                done.push(((s.scheduled_at_us + s.latency_us) as f64 / 1e6, answered));
            }
        }
        done
    };
    let run = async {
        let r = runner.run(&plan, &mut result).await;
        drop(runner);
        r
    };
    let (ran, mut done) = tokio::join!(run, watch);
    ran.map_err(|e| e.to_string())?;
    done.sort_by(|a, b| a.0.total_cmp(&b.0));
    let active = done.len().saturating_sub(users);
    if steady && active >= 1 {
        let end = done[active - 1].0;
        let answered = done[..active].iter().filter(|d| d.1).count();
        if end > 0.0 && answered > 0 {
            return Ok(answered as f64 / end);
        }
    }
    let answered =
        result.overall.outcome_count("ok") + result.overall.outcome_count("failed_expectation");
    if answered > 0 && result.wall_time_s > 0.0 {
        return Ok(answered as f64 / result.wall_time_s);
    }
    // What came back instead, most frequent first: "32 timeout" or "30 error:http, 2 …".
    let mut outcomes: Vec<(&String, &u64)> = result.overall.outcomes.iter().collect();
    outcomes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let said: Vec<String> = outcomes.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Err(if said.is_empty() {
        "no query finished".to_owned()
    } else {
        said.join(", ")
    })
}

/// The p-th quantile's distribution-free 95% interval from `h` (order statistics, with
/// the normal approximation of the binomial ranks).
fn quantile_interval_ms(h: &LatencyHistogram, p: f64) -> Option<(f64, f64)> {
    let n = h.count() as f64;
    if n < 1.0 {
        return None;
    }
    let half = 1.96 * (n * p * (1.0 - p)).sqrt();
    let lo = ((n * p - half).floor() / n).clamp(0.0, 1.0);
    let hi = ((n * p + half).ceil() / n).clamp(0.0, 1.0);
    Some((
        h.percentile_micros(lo * 100.0) as f64 / 1e3,
        h.percentile_micros(hi * 100.0) as f64 / 1e3,
    ))
}

/// Wilson 95% interval of `k` successes in `n`.
fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt()) / denom;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

fn judge(
    result: &RunResult,
    slos: &Slos,
    spec: ProbeSpec,
    slope: Slope,
    late: Slope,
    stopped: bool,
    service: Option<ServiceRate>,
) -> ProbeReport {
    let rate = spec.rate;
    let g = &result.overall;
    let wall = result.wall_time_s;
    let tally = result.goodput.clone().unwrap_or_default();
    let answered = g.outcome_count("ok") + g.outcome_count("failed_expectation");
    let per_s = |n: u64| if wall > 0.0 { n as f64 / wall } else { 0.0 };
    let checks = slos.evaluate(g, Some(&tally.overall));
    let mut failed: Vec<(f64, Limit)> = Vec::new();
    let mut undecided = Vec::new();
    for c in &checks {
        let Some(measured) = c.measured else {
            // Unmeasurable here (no streamed answer for a TTFT objective): unset.
            continue;
        };
        let interval = match c.slo {
            SloKind::LatencyP95 => quantile_interval_ms(&g.latency, 0.95),
            SloKind::LatencyP99 => quantile_interval_ms(&g.latency, 0.99),
            SloKind::TtftP95 => quantile_interval_ms(&g.ttft, 0.95),
            SloKind::SuccessRate => wilson(g.successes, g.count),
            SloKind::Quality => wilson(tally.overall.correct, tally.overall.answered),
        };
        let Some((lo, hi)) = interval else { continue };
        let (miss, pass, severity) = if c.slo.is_latency() {
            (lo > c.target, hi <= c.target, measured / c.target)
        } else {
            (hi < c.target, lo >= c.target, c.target / measured.max(1e-9))
        };
        if miss {
            failed.push((severity, c.slo.into()));
        } else if !pass {
            undecided.push(Limit::from(c.slo));
        }
    }
    failed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut failed: Vec<Limit> = failed.into_iter().map(|(_, l)| l).collect();
    let fit = slope.fit();
    // A steep, clear climb is saturation; a moderate one may be a burst of arrivals in a
    // short probe (Poisson queues wander below capacity too): too close to call, so the
    // search retries it with twice the arrivals.
    let late_fit = late.fit().filter(|_| late.n >= 15.0);
    let steep = |f: Option<(f64, f64)>| f.is_some_and(|(b, t)| b > EARLY_STOP_SLOPE && t > 3.0);
    if service.is_some() {
        // Overloaded on purpose, and the completions fell behind the arrivals: the misses
        // of the objectives follow from the overload, which is what is reported.
        failed = vec![Limit::Saturated];
        undecided.clear();
    } else if spec.mode == ProbeMode::BelowServiceRate {
        // Below the measured service rate the queue is stable: a climb of latency in a
        // short probe is a burst of arrivals, judged through the objectives alone.
    } else if stopped || steep(late_fit) || steep(fit.filter(|_| slope.n >= 20.0)) {
        failed.push(Limit::Saturated);
    } else if [late_fit, fit.filter(|_| slope.n >= 20.0)]
        .into_iter()
        .any(|f| f.is_some_and(|(b, t)| b > SATURATED_SLOPE && t > 3.0))
    {
        undecided.push(Limit::Saturated);
    }
    let verdict = if !failed.is_empty() {
        ProbeVerdict::Fail
    } else if !undecided.is_empty() {
        ProbeVerdict::Indeterminate
    } else {
        ProbeVerdict::Pass
    };
    let ms =
        |h: &LatencyHistogram, p: f64| (!h.is_empty()).then(|| h.percentile_micros(p) as f64 / 1e3);
    let sent = g.count - g.outcome_count("dropped");
    let per_agent = result
        .per_agent
        .iter()
        .map(|(agent, s)| {
            let good = tally.per_agent.get(agent).map_or(0, |c| c.good);
            (
                agent.clone(),
                AgentProbe {
                    throughput_per_s: per_s(
                        s.outcome_count("ok") + s.outcome_count("failed_expectation"),
                    ),
                    goodput_per_s: per_s(good),
                },
            )
        })
        .collect();
    ProbeReport {
        rate,
        duration_s: wall,
        count: g.count,
        throughput_per_s: per_s(answered),
        goodput_per_s: per_s(tally.overall.good),
        latency_p50_ms: ms(&g.latency, 50.0),
        latency_p95_ms: ms(&g.latency, 95.0),
        latency_p95_interval_ms: quantile_interval_ms(&g.latency, 0.95),
        latency_p99_ms: ms(&g.latency, 99.0),
        ttft_p95_ms: ms(&g.ttft, 95.0),
        mean_concurrency: per_s(sent) * g.latency.mean_micros() / 1e6,
        latency_slope: fit.map(|(b, _)| b),
        stopped_early: stopped,
        checks,
        verdict,
        failed,
        undecided,
        per_agent,
        service_rate: service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_sane() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=1000u64 {
            h.record_micros(ms * 1000);
        }
        let (lo, hi) = quantile_interval_ms(&h, 0.95).expect("samples");
        assert!(
            lo < 950.5 && hi > 949.5 && lo > 930.0 && hi < 970.0,
            "{lo}..{hi}"
        );
        let (lo, hi) = wilson(80, 100).expect("n > 0");
        assert!(lo > 0.70 && lo < 0.8 && hi > 0.8 && hi < 0.88, "{lo}..{hi}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn planned_duration_follows_the_rate_within_bounds() {
        let c = ProbeConfig::default();
        assert_eq!(c.planned_duration(4.0, 1.0), Duration::from_secs(10));
        assert_eq!(c.planned_duration(1000.0, 1.0), Duration::from_secs(5));
        assert_eq!(c.planned_duration(0.1, 1.0), Duration::from_secs(40));
        assert_eq!(c.planned_duration(4.0, 2.0), Duration::from_secs(20));
    }
}
