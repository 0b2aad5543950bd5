//! Service-level objectives and goodput.
//!
//! Goodput follows vLLM's and AIPerf's definition (completed requests per second that
//! meet every latency SLO, judged per request) and adds correctness: a query is **good**
//! when
//!
//! 1. it was answered and every grounded expectation held (outcome `ok`),
//! 2. it was answered by the agent it was meant for (when the query names one),
//! 3. its latency (from the intended start) is at most every latency threshold set
//!    (`latency_p95_ms`, `latency_p99_ms`: per request, the tighter one binds), and
//! 4. its time to first token is at most `ttft_p95_ms`, when that is set and the answer
//!    was streamed (an answer without a first-token time cannot be judged on it).
//!
//! Errors, timeouts and arrivals shed at the in-flight cap are misses. Queries cancelled
//! by the end of a run are never recorded (the runner does not count them), so they are
//! excluded rather than missed. Goodput is `good / wall time`; an SLO that a run cannot
//! measure (no streamed answer for a TTFT objective, nothing answered) is reported as
//! unset (`None`), never as 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::GroupStats;
use crate::{ConfigError, Outcome, Sample, MAX_TRACKED_NAMES, OTHER};

/// The service-level objectives of a run (`slos` in the configuration); every field is
/// optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slos {
    /// Latency p95 at most this many milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p95_ms: Option<f64>,
    /// Latency p99 at most this many milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_p99_ms: Option<f64>,
    /// Time to first token p95 at most this many milliseconds (streamed answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_p95_ms: Option<f64>,
    /// Share of queries with outcome `ok`, at least (0–1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// Share of answered queries whose expectations and routing both passed, at least
    /// (0–1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_floor: Option<f64>,
}

impl Slos {
    /// `true` when no objective is set.
    pub fn is_empty(&self) -> bool {
        *self == Slos::default()
    }

    /// Checks the values; `prefix` is prepended to key names (`slos.`). Contradictory
    /// objectives (a p99 bound below the p95 bound) are an error, not a silent miss.
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        for (key, v) in [
            ("latency_p95_ms", self.latency_p95_ms),
            ("latency_p99_ms", self.latency_p99_ms),
            ("ttft_p95_ms", self.ttft_p95_ms),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(ConfigError::new(
                        format!("{prefix}{key}"),
                        format!("must be a positive number of milliseconds, got {v}"),
                    ));
                }
            }
        }
        for (key, v) in [
            ("success_rate", self.success_rate),
            ("quality_floor", self.quality_floor),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                    return Err(ConfigError::new(
                        format!("{prefix}{key}"),
                        format!("must be a share between 0 (exclusive) and 1, got {v}"),
                    ));
                }
            }
        }
        if let (Some(p95), Some(p99)) = (self.latency_p95_ms, self.latency_p99_ms) {
            if p99 < p95 {
                return Err(ConfigError::new(
                    format!("{prefix}latency_p99_ms"),
                    format!(
                        "is {p99} ms, below latency_p95_ms ({p95} ms): a p99 is never below the p95, so the p95 bound could never bind; raise latency_p99_ms or lower latency_p95_ms"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The per-request latency threshold, microseconds: the tightest latency bound set.
    pub fn latency_threshold_us(&self) -> Option<u64> {
        [self.latency_p95_ms, self.latency_p99_ms]
            .into_iter()
            .flatten()
            .reduce(f64::min)
            .map(|ms| (ms * 1e3) as u64)
    }

    /// The per-request TTFT threshold, microseconds.
    pub fn ttft_threshold_us(&self) -> Option<u64> {
        self.ttft_p95_ms.map(|ms| (ms * 1e3) as u64)
    }

    /// Judges `g` against every objective set, in a fixed order (latency p95, latency
    /// p99, TTFT p95, success rate, quality). Quality needs the group's goodput counts
    /// (`counts`); without them, or with nothing answered, it is unset.
    pub fn evaluate(&self, g: &GroupStats, counts: Option<&GoodCounts>) -> Vec<SloCheck> {
        let mut out = Vec::new();
        let ms = |h: &crate::LatencyHistogram, p: f64| {
            (!h.is_empty()).then(|| h.percentile_micros(p) as f64 / 1e3)
        };
        let mut upper = |slo: SloKind, target: Option<f64>, measured: Option<f64>| {
            if let Some(target) = target {
                out.push(SloCheck {
                    slo,
                    target,
                    measured,
                    met: measured.map(|m| m <= target),
                });
            }
        };
        upper(
            SloKind::LatencyP95,
            self.latency_p95_ms,
            ms(&g.latency, 95.0),
        );
        upper(
            SloKind::LatencyP99,
            self.latency_p99_ms,
            ms(&g.latency, 99.0),
        );
        upper(SloKind::TtftP95, self.ttft_p95_ms, ms(&g.ttft, 95.0));
        let success = (g.count > 0).then(|| g.successes as f64 / g.count as f64);
        let quality = counts
            .filter(|c| c.answered > 0)
            .map(|c| c.correct as f64 / c.answered as f64);
        for (slo, target, measured) in [
            (SloKind::SuccessRate, self.success_rate, success),
            (SloKind::Quality, self.quality_floor, quality),
        ] {
            if let Some(target) = target {
                out.push(SloCheck {
                    slo,
                    target,
                    measured,
                    met: measured.map(|m| m >= target),
                });
            }
        }
        out
    }
}

/// Which objective a [`SloCheck`] judged; serialized snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloKind {
    /// `latency_p95_ms`.
    LatencyP95,
    /// `latency_p99_ms`.
    LatencyP99,
    /// `ttft_p95_ms`.
    TtftP95,
    /// `success_rate` (errors, timeouts, wrong answers).
    SuccessRate,
    /// `quality_floor`.
    Quality,
}

impl SloKind {
    /// The configuration key.
    pub fn key(self) -> &'static str {
        match self {
            SloKind::LatencyP95 => "latency_p95_ms",
            SloKind::LatencyP99 => "latency_p99_ms",
            SloKind::TtftP95 => "ttft_p95_ms",
            SloKind::SuccessRate => "success_rate",
            SloKind::Quality => "quality_floor",
        }
    }

    /// `true` for the objectives bounded from above (milliseconds).
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            SloKind::LatencyP95 | SloKind::LatencyP99 | SloKind::TtftP95
        )
    }
}

impl std::fmt::Display for SloKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// One objective judged on one group of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SloCheck {
    /// The objective.
    pub slo: SloKind,
    /// Its target (milliseconds, or a share).
    pub target: f64,
    /// What the run measured; `None` when it could not be measured.
    pub measured: Option<f64>,
    /// Whether it was met; `None` (unset) when it could not be measured.
    pub met: Option<bool>,
}

/// Good and counted queries of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodCounts {
    /// Queries that met every per-request objective and passed their expectations and
    /// routing.
    pub good: u64,
    /// Queries counted: every recorded query (misses included).
    pub counted: u64,
    /// Queries answered (outcome `ok` or `failed_expectation`).
    #[serde(default)]
    pub answered: u64,
    /// Answered queries whose expectations and routing both passed, whatever their
    /// latency: the numerator of the quality share.
    #[serde(default)]
    pub correct: u64,
}

impl GoodCounts {
    fn add(&mut self, v: Judged) {
        self.counted += 1;
        self.good += u64::from(v.good);
        self.answered += u64::from(v.answered);
        self.correct += u64::from(v.correct);
    }

    fn merge(&mut self, other: &GoodCounts) {
        self.good = self.good.saturating_add(other.good);
        self.counted = self.counted.saturating_add(other.counted);
        self.answered = self.answered.saturating_add(other.answered);
        self.correct = self.correct.saturating_add(other.correct);
    }

    /// `correct / answered`: the quality share; `None` when nothing was answered.
    pub fn quality(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.correct as f64 / self.answered as f64)
    }
}

/// How one query was judged by [`GoodputTally::judge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// It met every per-request objective and was right.
    pub good: bool,
    /// It was answered.
    pub answered: bool,
    /// It was answered, right and routed right (whatever its latency).
    pub correct: bool,
}

/// Goodput counters folded as samples arrive (overall and per agent; memory grows with
/// the number of agents, never with the number of queries). See the module docs for the
/// rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GoodputTally {
    /// Per-request latency threshold, microseconds (the tightest latency SLO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_threshold_us: Option<u64>,
    /// Per-request TTFT threshold, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_threshold_us: Option<u64>,
    /// All queries.
    pub overall: GoodCounts,
    /// Per agent (the answering agent, else the expected one, else `unrouted`: the keys
    /// of `RunResult::per_agent`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub per_agent: BTreeMap<String, GoodCounts>,
}

impl GoodputTally {
    /// An empty tally judging requests against `slos`.
    pub fn new(slos: &Slos) -> Self {
        Self {
            latency_threshold_us: slos.latency_threshold_us(),
            ttft_threshold_us: slos.ttft_threshold_us(),
            ..Self::default()
        }
    }

    /// An empty tally with the same thresholds.
    pub fn empty_like(&self) -> Self {
        Self {
            latency_threshold_us: self.latency_threshold_us,
            ttft_threshold_us: self.ttft_threshold_us,
            ..Self::default()
        }
    }

    /// Judges a query with these figures (see the module docs).
    pub fn judge(
        &self,
        outcome: Outcome,
        routed_correctly: Option<bool>,
        latency_us: u64,
        ttft_us: Option<u64>,
    ) -> Judged {
        let answered = matches!(outcome, Outcome::Ok | Outcome::FailedExpectation);
        let correct = outcome == Outcome::Ok && routed_correctly != Some(false);
        let good = correct
            && self.latency_threshold_us.is_none_or(|t| latency_us <= t)
            && match (self.ttft_threshold_us, ttft_us) {
                (Some(t), Some(v)) => v <= t,
                _ => true,
            };
        Judged {
            good,
            answered,
            correct,
        }
    }

    /// Folds one judged query in; `agent` is its `per_agent` key. Past
    /// [`MAX_TRACKED_NAMES`] agents, new names are counted under [`OTHER`] (a bot that
    /// names a new agent in every answer must not grow the tally).
    pub fn record_parts(&mut self, agent: &str, v: Judged) {
        self.overall.add(v);
        if let Some(c) = self.per_agent.get_mut(agent) {
            c.add(v);
        } else {
            let key = if self.per_agent.len() < MAX_TRACKED_NAMES {
                agent
            } else {
                OTHER
            };
            self.per_agent.entry(key.to_owned()).or_default().add(v);
        }
    }

    /// Folds one sample in.
    pub fn record(&mut self, s: &Sample) {
        let good = self.judge(s.outcome, s.routed_correctly(), s.latency_us, s.ttft_us);
        let agent = s
            .agent
            .as_deref()
            .or(s.expected_agent.as_deref())
            .unwrap_or("unrouted");
        self.record_parts(agent, good);
    }

    /// Adds another shard's counts (the thresholds are the same by construction).
    pub fn merge(&mut self, other: &GoodputTally) {
        self.overall.merge(&other.overall);
        for (k, v) in &other.per_agent {
            let key = if self.per_agent.contains_key(k) || self.per_agent.len() < MAX_TRACKED_NAMES
            {
                k.as_str()
            } else {
                OTHER
            };
            self.per_agent.entry(key.to_owned()).or_default().merge(v);
        }
    }

    /// Goodput figures for a run of `wall_time_s` seconds.
    pub fn summary(&self, wall_time_s: f64) -> GoodputSummary {
        let one = |c: &GoodCounts| GoodputFigures {
            good: c.good,
            counted: c.counted,
            goodput_per_s: (wall_time_s > 0.0).then(|| c.good as f64 / wall_time_s),
            good_share: (c.counted > 0).then(|| c.good as f64 / c.counted as f64),
            quality: c.quality(),
        };
        GoodputSummary {
            latency_threshold_ms: self.latency_threshold_us.map(|u| u as f64 / 1e3),
            ttft_threshold_ms: self.ttft_threshold_us.map(|u| u as f64 / 1e3),
            overall: one(&self.overall),
            per_agent: self
                .per_agent
                .iter()
                .map(|(k, c)| (k.clone(), one(c)))
                .collect(),
        }
    }
}

/// Goodput of one group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GoodputFigures {
    /// Good queries.
    pub good: u64,
    /// Queries counted.
    pub counted: u64,
    /// Good queries per second of wall time; `None` without wall time.
    pub goodput_per_s: Option<f64>,
    /// `good / counted`; `None` when nothing was counted.
    pub good_share: Option<f64>,
    /// Share of answered queries whose expectations and routing passed; `None` when
    /// nothing was answered.
    pub quality: Option<f64>,
}

/// The goodput of a run, overall and per agent, with the thresholds it was judged by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoodputSummary {
    /// Per-request latency threshold, ms; `None` when no latency SLO is set.
    pub latency_threshold_ms: Option<f64>,
    /// Per-request TTFT threshold, ms; `None` when no TTFT SLO is set.
    pub ttft_threshold_ms: Option<f64>,
    /// All queries.
    pub overall: GoodputFigures,
    /// Per agent.
    pub per_agent: BTreeMap<String, GoodputFigures>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunResult;
    use crate::{ErrorKind, TargetInfo};

    fn s(outcome: Outcome, agent: &str, expected: &str, latency_ms: u64) -> Sample {
        Sample {
            agent: (!agent.is_empty()).then(|| agent.to_owned()),
            expected_agent: Some(expected.to_owned()),
            ..Sample::new("q", "standard", "c", outcome, latency_ms * 1000)
        }
    }

    #[test]
    fn goodput_rules_errors_misroutes_and_thresholds() {
        let slos = Slos {
            latency_p95_ms: Some(2000.0),
            latency_p99_ms: Some(3000.0),
            ..Slos::default()
        };
        let mut r = RunResult::new("r", "t", TargetInfo::default());
        r.goodput = Some(GoodputTally::new(&slos));
        for sample in [
            s(Outcome::Ok, "a", "a", 1000),                  // good
            s(Outcome::Ok, "a", "a", 2000),                  // good: at the threshold
            s(Outcome::Ok, "a", "a", 2500),                  // too slow for the tighter bound
            s(Outcome::Ok, "b", "a", 100),                   // misrouted
            s(Outcome::FailedExpectation, "a", "a", 100),    // wrong answer
            s(Outcome::Error(ErrorKind::Bot), "", "a", 100), // error: a miss
            s(Outcome::Timeout, "", "b", 100),               // timeout: a miss
            s(Outcome::Dropped, "", "b", 0),                 // shed: a miss
        ] {
            r.record(&sample);
        }
        r.wall_time_s = 2.0;
        let g = r.goodput.as_ref().expect("set").summary(r.wall_time_s);
        assert_eq!(g.overall.good, 2);
        assert_eq!(g.overall.counted, 8);
        assert_eq!(g.overall.goodput_per_s, Some(1.0));
        assert_eq!(g.latency_threshold_ms, Some(2000.0));
        assert_eq!(g.per_agent["a"].good, 2);
        assert_eq!(
            g.per_agent["a"].counted, 5,
            "errors count under their expected agent"
        );
        assert_eq!(g.per_agent["b"].good, 0);
    }

    /// Issue #16 D5: a bot naming a new agent in every answer does not grow the tally.
    #[test]
    fn agents_past_the_cap_are_counted_under_other() {
        let mut t = GoodputTally::new(&Slos::default());
        let v = t.judge(Outcome::Ok, None, 1, None);
        for k in 0..(MAX_TRACKED_NAMES + 50) {
            t.record_parts(&format!("agent-{k}"), v);
        }
        assert_eq!(t.per_agent.len(), MAX_TRACKED_NAMES + 1);
        assert_eq!(t.per_agent[OTHER].good, 50);
        assert_eq!(t.overall.good, (MAX_TRACKED_NAMES + 50) as u64);
        let mut merged = t.clone();
        merged.merge(&t);
        assert_eq!(merged.per_agent.len(), MAX_TRACKED_NAMES + 1);
        assert_eq!(merged.overall.good, 2 * t.overall.good);
    }

    #[test]
    fn unset_objectives_and_unmeasurable_ones() {
        // No SLOs: every answered, correct, well-routed query is good.
        let t = GoodputTally::new(&Slos::default());
        assert!(t.judge(Outcome::Ok, None, u64::MAX, None).good);
        // A TTFT objective cannot judge an answer that was not streamed.
        let t = GoodputTally::new(&Slos {
            ttft_p95_ms: Some(500.0),
            ..Slos::default()
        });
        assert!(t.judge(Outcome::Ok, Some(true), 10, None).good);
        assert!(!t.judge(Outcome::Ok, Some(true), 10, Some(600_000)).good);
        // Evaluated on a group without streamed answers, the TTFT SLO is unset, not 0.
        let mut g = GroupStats::default();
        let mut tally = GoodputTally::new(&Slos::default());
        g.record(&s(Outcome::Ok, "a", "a", 100));
        tally.record(&s(Outcome::Ok, "a", "a", 100));
        let checks = Slos {
            ttft_p95_ms: Some(500.0),
            quality_floor: Some(0.9),
            ..Slos::default()
        }
        .evaluate(&g, Some(&tally.overall));
        assert_eq!(checks[0].slo, SloKind::TtftP95);
        assert_eq!(checks[0].measured, None);
        assert_eq!(checks[0].met, None);
        assert_eq!(checks[1].measured, Some(1.0));
        assert_eq!(checks[1].met, Some(true));
        // Nothing answered: quality is unmeasurable.
        let mut g = GroupStats::default();
        let mut tally = GoodputTally::new(&Slos::default());
        g.record(&s(Outcome::Timeout, "", "a", 100));
        tally.record(&s(Outcome::Timeout, "", "a", 100));
        let q = Slos {
            quality_floor: Some(0.9),
            success_rate: Some(0.5),
            ..Slos::default()
        }
        .evaluate(&g, Some(&tally.overall));
        assert_eq!(q[0].met, Some(false), "success rate 0 is measured");
        assert_eq!(q[1].measured, None);
    }

    #[test]
    fn quality_counts_wrong_answers_and_misroutes() {
        let mut g = GroupStats::default();
        let mut tally = GoodputTally::new(&Slos::default());
        for i in 0..10 {
            let o = if i < 2 {
                Outcome::FailedExpectation
            } else {
                Outcome::Ok
            };
            let agent = if i == 9 { "b" } else { "a" };
            g.record(&s(o, agent, "a", 10));
            tally.record(&s(o, agent, "a", 10));
        }
        let q = Slos {
            quality_floor: Some(0.8),
            ..Slos::default()
        }
        .evaluate(&g, Some(&tally.overall));
        assert_eq!(q[0].measured, Some(0.7));
        assert_eq!(q[0].met, Some(false));
    }

    #[test]
    fn bad_and_contradictory_slos_are_named() {
        let err = Slos {
            latency_p95_ms: Some(2000.0),
            latency_p99_ms: Some(1000.0),
            ..Slos::default()
        }
        .validate("slos.")
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("slos.latency_p99_ms") && err.contains("below"),
            "{err}"
        );
        let err = Slos {
            quality_floor: Some(1.5),
            ..Slos::default()
        }
        .validate("slos.")
        .unwrap_err()
        .to_string();
        assert!(err.contains("slos.quality_floor"), "{err}");
        let err = Slos {
            ttft_p95_ms: Some(-1.0),
            ..Slos::default()
        }
        .validate("slos.")
        .unwrap_err()
        .to_string();
        assert!(err.contains("slos.ttft_p95_ms"), "{err}");
        assert!(Slos::default().validate("slos.").is_ok());
    }

    #[test]
    fn tallies_merge_exactly() {
        let slos = Slos {
            latency_p95_ms: Some(50.0),
            ..Slos::default()
        };
        let mut whole = GoodputTally::new(&slos);
        let mut left = whole.empty_like();
        let mut right = whole.empty_like();
        for i in 0..100u64 {
            let sample = s(Outcome::Ok, ["a", "b"][(i % 2) as usize], "a", i);
            whole.record(&sample);
            if i % 3 == 0 {
                left.record(&sample)
            } else {
                right.record(&sample)
            }
        }
        left.merge(&right);
        assert_eq!(left, whole);
        // Good: routed to `a` (even i) and at most 50 ms: i = 0, 2, ..., 50.
        assert_eq!(whole.overall.good, 26);
    }
}
