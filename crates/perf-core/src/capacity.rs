//! The data of a capacity search and of its predictions: what `orchestrator capacity`
//! writes to `report.json` and what the report renderers draw. Produced by `perf-suite`
//! (the search) and `perf-baseline` (the fits); see `docs/capacity.md`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{SloCheck, SloKind, Slos};
use crate::TargetInfo;

/// Version of the [`CapacityReport`] JSON format.
pub const CAPACITY_FORMAT_VERSION: u32 = 1;

/// What made a probe fail; serialized snake_case (`latency_p95`, ..., `saturated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The latency p95 objective.
    LatencyP95,
    /// The latency p99 objective.
    LatencyP99,
    /// The TTFT p95 objective.
    TtftP95,
    /// The success-rate objective (errors, timeouts, wrong answers).
    SuccessRate,
    /// The quality floor (wrong answers, misroutes).
    Quality,
    /// The bot could not keep up: latency kept growing with arrival time.
    Saturated,
}

impl From<SloKind> for Limit {
    fn from(k: SloKind) -> Self {
        match k {
            SloKind::LatencyP95 => Limit::LatencyP95,
            SloKind::LatencyP99 => Limit::LatencyP99,
            SloKind::TtftP95 => Limit::TtftP95,
            SloKind::SuccessRate => Limit::SuccessRate,
            SloKind::Quality => Limit::Quality,
        }
    }
}

impl Limit {
    /// A stable name (`latency_p95`, `saturated`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::LatencyP95 => "latency_p95",
            Limit::LatencyP99 => "latency_p99",
            Limit::TtftP95 => "ttft_p95",
            Limit::SuccessRate => "success_rate",
            Limit::Quality => "quality",
            Limit::Saturated => "saturated",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decision of one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeVerdict {
    /// Every objective met with confidence, and not saturated.
    Pass,
    /// An objective missed with confidence, or saturated.
    Fail,
    /// Too close to call: an interval straddles a threshold.
    Indeterminate,
}

/// Throughput and goodput of one agent during a probe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AgentProbe {
    /// Queries answered per second.
    pub throughput_per_s: f64,
    /// Good queries per second.
    pub goodput_per_s: f64,
}

/// The bot's service rate, measured while it was overloaded: answers completed per second
/// while arrivals kept its queue from emptying. With every model slot busy, that is the
/// most the bot can serve (slots / mean service time), whatever the arrival rate above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServiceRate {
    /// Answers completed per second in the window.
    pub per_s: f64,
    /// Lower end of its 95% interval (the count taken as Poisson: conservative for
    /// service times less variable than exponential).
    pub low_per_s: f64,
    /// Upper end of its 95% interval.
    pub high_per_s: f64,
    /// Answers completed in the window.
    pub completions: u64,
    /// Seconds of the window.
    pub window_s: f64,
}

impl ServiceRate {
    /// The rate of `completions` over `window_s` seconds with its 95% interval; `None`
    /// for an empty window.
    pub fn from_count(completions: u64, window_s: f64) -> Option<Self> {
        if window_s.is_nan() || window_s <= 0.0 || completions == 0 {
            return None;
        }
        let n = completions as f64;
        let half = 1.96 * n.sqrt();
        Some(Self {
            per_s: n / window_s,
            low_per_s: (n - half).max(0.0) / window_s,
            high_per_s: (n + half) / window_s,
            completions,
            window_s,
        })
    }

    /// This measurement and `other` counted as one: their answers over their windows.
    pub fn pooled_with(&self, other: &ServiceRate) -> Option<Self> {
        Self::from_count(
            self.completions + other.completions,
            self.window_s + other.window_s,
        )
    }

    /// The capacity this service rate is when saturation limits: the rate with its 95%
    /// interval.
    pub fn as_capacity(&self) -> CapacityAnswer {
        CapacityAnswer::Found {
            rate: self.per_s,
            low: self.low_per_s,
            high: Some(self.high_per_s),
        }
    }
}

/// One open-loop probe at a fixed arrival rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Offered arrival rate, queries per second.
    pub rate: f64,
    /// Seconds the probe ran (shorter than planned when stopped early).
    pub duration_s: f64,
    /// Queries recorded (sent or shed).
    pub count: u64,
    /// Answered queries per second of the probe.
    pub throughput_per_s: f64,
    /// Good queries per second (see `Slos` for the rule).
    pub goodput_per_s: f64,
    /// Latency percentiles, ms (`None` when nothing was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p50_ms: Option<f64>,
    /// Latency p95, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    /// Distribution-free 95% interval of the latency p95 (order statistics), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p95_interval_ms: Option<(f64, f64)>,
    /// Latency p99, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
    /// TTFT p95, ms, when answers were streamed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p95_ms: Option<f64>,
    /// Mean concurrency (Little's law: throughput × mean latency).
    pub mean_concurrency: f64,
    /// Seconds of latency gained per second of arrival time (least squares); clearly
    /// positive when a queue builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_slope: Option<f64>,
    /// Stopped before its planned end because the bot was clearly saturated.
    pub stopped_early: bool,
    /// Each objective judged.
    pub checks: Vec<SloCheck>,
    /// The decision.
    pub verdict: ProbeVerdict,
    /// What failed (empty for a pass), worst first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Limit>,
    /// Objectives too close to call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<Limit>,
    /// Per agent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_agent: BTreeMap<String, AgentProbe>,
    /// The service rate, for an overload probe whose completions fell clearly behind its
    /// arrivals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_rate: Option<ServiceRate>,
}

impl ProbeReport {
    /// A probe at `rate` queries per second for `duration_s` seconds judged `verdict`, with
    /// nothing measured yet: no queries, no latencies, no checks, no limits, no agents.
    /// Fill in what was measured with struct update syntax
    /// (`ProbeReport { count: 100, ..ProbeReport::new(4.0, 10.0, ProbeVerdict::Pass) }`).
    pub fn new(rate: f64, duration_s: f64, verdict: ProbeVerdict) -> Self {
        Self {
            rate,
            duration_s,
            count: 0,
            throughput_per_s: 0.0,
            goodput_per_s: 0.0,
            latency_p50_ms: None,
            latency_p95_ms: None,
            latency_p95_interval_ms: None,
            latency_p99_ms: None,
            ttft_p95_ms: None,
            mean_concurrency: 0.0,
            latency_slope: None,
            stopped_early: false,
            checks: Vec::new(),
            verdict,
            failed: Vec::new(),
            undecided: Vec::new(),
            per_agent: BTreeMap::new(),
            service_rate: None,
        }
    }
}

/// The answer of a capacity search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CapacityAnswer {
    /// A capacity and the interval the true capacity lies in. When an objective limits
    /// it: the highest rate that passed, from that rate to the lowest rate that failed.
    /// When saturation limits it: the service rate measured under overload, with its 95%
    /// interval (an objective held just below it).
    Found {
        /// The capacity, queries per second.
        rate: f64,
        /// Lower end of the interval.
        low: f64,
        /// Upper end (`None` when no rate failed).
        high: Option<f64>,
    },
    /// Noise prevented a decision; the bracket is what is known.
    Indeterminate {
        /// The highest passing rate, if any.
        low: Option<f64>,
        /// The lowest failing rate, if any.
        high: Option<f64>,
    },
    /// Even the lowest rate tried missed an objective.
    NoRateMeets {
        /// The lowest rate tried.
        lowest_rate: f64,
    },
    /// Not one probe could run (budget, cancellation, an unreachable bot).
    NotMeasured,
}

/// Where throughput stops following the offered load: the break of a two-segment
/// (continuous, least-squares) fit of throughput against offered rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// Offered rate at the break, queries per second.
    pub offered_per_s: f64,
    /// Throughput at the break.
    pub throughput_per_s: f64,
    /// Slope of the first segment (1 when every arrival is served).
    pub slope_below: f64,
    /// Slope of the second segment (near 0 at saturation).
    pub slope_above: f64,
}

/// A fitted coefficient with its standard error and 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its standard error (from the fit's covariance).
    pub std_error: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end of the 95% interval.
    pub high: f64,
}

impl Estimate {
    /// Whether `x` lies in the 95% interval.
    pub fn covers(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Throughput measured at one concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UslPoint {
    /// Concurrency N (users of a closed loop, or Little's-law concurrency of a probe).
    pub concurrency: f64,
    /// Throughput X(N), queries per second.
    pub throughput: f64,
}

/// How a fit did on a point it was not fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Concurrency of the held-out point (the highest measured).
    pub concurrency: f64,
    /// Its measured throughput.
    pub measured: f64,
    /// The prediction of the fit without it.
    pub predicted: f64,
    /// `|predicted − measured| / measured`.
    pub relative_error: f64,
}

/// The Universal Scalability Law fitted to throughput against concurrency:
/// X(N) = λN / (1 + σ(N−1) + κN(N−1)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    /// λ: throughput of one user, queries per second.
    pub lambda: Estimate,
    /// σ: contention (serialization).
    pub sigma: Estimate,
    /// κ: coherency (crosstalk).
    pub kappa: Estimate,
    /// N* = sqrt((1 − σ)/κ), the concurrency of peak throughput; `None` when κ ≈ 0
    /// (throughput flattens without a peak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_concurrency: Option<f64>,
    /// X(N*) (or the asymptote λ/σ when there is no peak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_throughput: Option<f64>,
    /// Coefficient of determination of the fit.
    pub r_squared: f64,
    /// The points fitted.
    pub points: Vec<UslPoint>,
    /// The held-out check, when there were enough points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
}

/// The slots model fitted to throughput against concurrency: X(N) = min(λN, C). A bot
/// with `C/λ` model slots and no other contention serves a closed loop of N users exactly
/// so: every user in service while N is at most the slots, the slots' rate after. The USL
/// rounds that corner off and, fitted below it, predicts a decline after it; this model
/// does not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotsFit {
    /// λ: throughput of one user, queries per second.
    pub lambda: Estimate,
    /// C: the ceiling, queries per second.
    pub ceiling: Estimate,
    /// C/λ: the concurrency where the ceiling starts (the bot's slots).
    pub slots: f64,
    /// Coefficient of determination of the fit.
    pub r_squared: f64,
    /// The held-out check, when there were enough points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    /// Measured levels at least [`SlotsFit::PAST_KNEE`] times past the knee `slots`: the
    /// evidence of a ceiling. Reports name `slots` as the bot's slot count only with
    /// [`SlotsFit::MIN_PLATEAU_POINTS`] of them; a bot without a slot limit, whose
    /// throughput still rises at the last level tried, has fewer.
    #[serde(default)]
    pub plateau_points: usize,
}

impl SlotsFit {
    /// How far past the knee a level must lie to count as on the ceiling.
    pub const PAST_KNEE: f64 = 1.2;
    /// Levels on the ceiling needed before `slots` is called the bot's slot count.
    pub const MIN_PLATEAU_POINTS: usize = 2;

    /// Whether the data show the ceiling (see [`SlotsFit::plateau_points`]).
    pub fn shows_slots(&self) -> bool {
        self.plateau_points >= Self::MIN_PLATEAU_POINTS
    }

    /// X(N) with the fitted coefficients.
    pub fn predict(&self, n: f64) -> f64 {
        (self.lambda.value * n).min(self.ceiling.value)
    }
}

impl UslFit {
    /// X(N) with the fitted coefficients.
    pub fn predict(&self, n: f64) -> f64 {
        usl(self.lambda.value, self.sigma.value, self.kappa.value, n)
    }
}

/// X(N) = λN / (1 + σ(N−1) + κN(N−1)).
pub fn usl(lambda: f64, sigma: f64, kappa: f64, n: f64) -> f64 {
    lambda * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))
}

/// Where a trend series is heading with respect to its objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Forecast {
    /// At the current slope the series crosses the objective in about `runs` runs.
    Crossing {
        /// The series (a trend metric).
        metric: String,
        /// The objective's value.
        objective: f64,
        /// Runs until the crossing (0 when already past it).
        runs: f64,
        /// Lower end of the interval on `runs` (the steepest plausible slope).
        runs_low: f64,
        /// Upper end (`None` when a flat slope is plausible: maybe never).
        runs_high: Option<f64>,
        /// One sentence for a reader.
        message: String,
    },
    /// No forecast, and why (history too short, flat, or moving away).
    Refused {
        /// The series.
        metric: String,
        /// Why.
        reason: String,
    },
}

/// A trend series' forecast against the objective the configuration sets for it, as a
/// run report carries it (`forecasts` in `report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendForecast {
    /// Where the objective comes from: `slos.latency_p95_ms`,
    /// `regression_testing.limits.max_p95_ms`, ...
    pub objective_key: String,
    /// The objective's value, in the series' unit (ms for latencies, a share for rates).
    /// (Not `objective`: a crossing's own field has that name.)
    pub objective_value: f64,
    /// The forecast, or why there is none.
    #[serde(flatten)]
    pub forecast: Forecast,
}

impl TrendForecast {
    /// The sentence for a reader: the forecast's message or the refusal's reason.
    pub fn sentence(&self) -> String {
        match &self.forecast {
            Forecast::Crossing { message, .. } => message.clone(),
            Forecast::Refused { metric, reason } => {
                format!(
                    "{metric}: no forecast against {} {}: {reason}",
                    self.objective_key, self.objective_value
                )
            }
        }
    }
}

/// Everything a capacity run found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// [`CAPACITY_FORMAT_VERSION`].
    pub format_version: u32,
    /// The run's id (its report directory).
    pub run_id: String,
    /// Start, RFC 3339.
    pub started_at: String,
    /// The bot.
    pub target: TargetInfo,
    /// The objectives searched against.
    pub slos: Slos,
    /// The answer.
    pub answer: CapacityAnswer,
    /// Why the search stopped, in one sentence.
    pub stop_reason: String,
    /// One sentence for a reader ("capacity 1.9/s (1.9–2.0) ..." or "no rate meets the
    /// SLOs; at the lowest rate tried, p95 was ...").
    pub summary: String,
    /// What failed first: the failures at the lowest failing rate, worst first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limited_by: Vec<Limit>,
    /// The bot's service rate from the overload probe, when it was measured: above it the
    /// queue grows without bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_rate: Option<ServiceRate>,
    /// The knee of throughput against offered rate, when the probes show one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knee: Option<Knee>,
    /// Capacity per agent under the query mix: the capacity times each agent's share.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_agent_capacity: BTreeMap<String, f64>,
    /// Every probe, in the order run.
    pub probes: Vec<ProbeReport>,
    /// The closed-loop sweep (`--sweep`), users against throughput.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<UslPoint>,
    /// The USL fit of the sweep (or of the probes), when one could be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usl: Option<UslFit>,
    /// Why no USL fit was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usl_refused: Option<String>,
    /// The slots model fitted to the same points, when it could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots_fit: Option<SlotsFit>,
    /// The model to predict with, `usl` or `slots`: the one whose held-out prediction
    /// was closer (the smaller residual without a held-out point), with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_model: Option<String>,
    /// Seconds the whole search took.
    pub wall_time_s: f64,
    /// Remarks a reader must know.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl CapacityReport {
    /// A report of a search of `target` against `slos` that has measured nothing yet
    /// (answer "not measured"); the search fills it in.
    pub fn new(target: TargetInfo, slos: Slos) -> Self {
        Self {
            format_version: CAPACITY_FORMAT_VERSION,
            run_id: String::new(),
            started_at: String::new(),
            target,
            slos,
            answer: CapacityAnswer::NotMeasured,
            stop_reason: String::new(),
            summary: String::new(),
            limited_by: Vec::new(),
            service_rate: None,
            knee: None,
            per_agent_capacity: BTreeMap::new(),
            probes: Vec::new(),
            sweep: Vec::new(),
            usl: None,
            usl_refused: None,
            slots_fit: None,
            preferred_model: None,
            wall_time_s: 0.0,
            notes: Vec::new(),
        }
    }
}
