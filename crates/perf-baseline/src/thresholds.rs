use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::BaselineError;

/// Latency metrics compared per key, in the order verdicts are listed.
pub const LATENCY_METRICS: [&str; 4] = [
    "latency_median",
    "latency_mean",
    "latency_p95",
    "latency_p99",
];

/// Streaming metrics compared like latency when a baseline and a run both streamed: time
/// to first token, inter-token latency and time per output token.
pub const STREAMING_METRICS: [&str; 8] = [
    "ttft_median",
    "ttft_mean",
    "ttft_p95",
    "ttft_p99",
    "itl_median",
    "itl_p95",
    "tpot_median",
    "tpot_p95",
];

/// How large a change must be before it matters, per metric and per agent.
///
/// Latency, memory and CPU thresholds are relative (`0.15` = 15% worse); the success-rate
/// threshold is a drop in points on a 0–1 scale (`0.05` = 5 percentage points). The
/// defaults are the original suite's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Relative latency increase for every latency metric (`baseline_threshold`),
    /// streaming ones ([`STREAMING_METRICS`]) included.
    pub latency: f64,
    /// Per latency metric (`latency_median`, `latency_mean`, `latency_p95`,
    /// `latency_p99`, or one of [`STREAMING_METRICS`] such as `ttft_p95`), overriding
    /// [`Thresholds::latency`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub latency_metrics: BTreeMap<String, f64>,
    /// Success-rate drop in points (0–1).
    pub success_rate_drop: f64,
    /// Relative increase of peak memory.
    pub memory: f64,
    /// Relative increase of peak CPU.
    pub cpu: f64,
    /// Relative drop of the capacity stored in the baseline that blocks the gate
    /// (`0.2` = a capacity 20% lower), when the two capacities' intervals do not overlap
    /// either (`ci-gate --capacity`). Left out of files at its default, so adding it
    /// changed no configuration digest.
    #[serde(skip_serializing_if = "is_default_capacity_drop")]
    pub capacity_drop: f64,
    /// Overrides for the keys of one agent (`agent:<name>`, and `category:<name>` when the
    /// category is named after the agent, as the standard queries are).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub per_agent: BTreeMap<String, AgentThresholds>,
}

/// Per-agent threshold overrides; unset fields fall back to the global ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentThresholds {
    /// Relative latency increase for this agent's latency metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<f64>,
    /// Success-rate drop in points for this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate_drop: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            latency: 0.15,
            latency_metrics: BTreeMap::new(),
            success_rate_drop: 0.05,
            memory: 0.20,
            cpu: 0.20,
            capacity_drop: DEFAULT_CAPACITY_DROP,
            per_agent: BTreeMap::new(),
        }
    }
}

/// Default of [`Thresholds::capacity_drop`]: a capacity 20% below the baseline's blocks
/// (like the memory and CPU thresholds; a capacity search's bracket is about ±8% wide, so
/// a smaller threshold would be inside the noise of two searches).
pub const DEFAULT_CAPACITY_DROP: f64 = 0.20;

fn is_default_capacity_drop(v: &f64) -> bool {
    *v == DEFAULT_CAPACITY_DROP
}

impl Thresholds {
    /// The defaults with the latency threshold set from `baseline_threshold`.
    pub fn with_latency(latency: f64) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// Checks every value: thresholds must be finite and positive (the success-rate drop
    /// at most 1), and per-metric keys must name a latency metric.
    pub fn validate(&self) -> Result<(), BaselineError> {
        let positive = |key: String, v: f64, max: f64| {
            if v.is_finite() && v > 0.0 && v <= max {
                Ok(())
            } else {
                Err(BaselineError::config(
                    key,
                    format!("{v} is out of range: use a number above 0 and at most {max}"),
                ))
            }
        };
        positive("thresholds.latency".into(), self.latency, 100.0)?;
        positive(
            "thresholds.success_rate_drop".into(),
            self.success_rate_drop,
            1.0,
        )?;
        positive("thresholds.memory".into(), self.memory, 100.0)?;
        positive("thresholds.cpu".into(), self.cpu, 100.0)?;
        positive("thresholds.capacity_drop".into(), self.capacity_drop, 1.0)?;
        for (metric, v) in &self.latency_metrics {
            let mut known = LATENCY_METRICS.iter().chain(&STREAMING_METRICS);
            if !known.any(|m| m == metric) {
                return Err(BaselineError::config(
                    format!("thresholds.latency_metrics.{metric}"),
                    format!(
                        "unknown latency metric: use one of {}, {}",
                        LATENCY_METRICS.join(", "),
                        STREAMING_METRICS.join(", ")
                    ),
                ));
            }
            positive(format!("thresholds.latency_metrics.{metric}"), *v, 100.0)?;
        }
        for (agent, t) in &self.per_agent {
            if let Some(v) = t.latency {
                positive(format!("thresholds.per_agent.{agent}.latency"), v, 100.0)?;
            }
            if let Some(v) = t.success_rate_drop {
                positive(
                    format!("thresholds.per_agent.{agent}.success_rate_drop"),
                    v,
                    1.0,
                )?;
            }
        }
        Ok(())
    }

    /// The threshold for `metric` on `key` (`overall`, `agent:<name>`, `category:<name>`,
    /// `scenario:<name>`).
    pub fn for_metric(&self, key: &str, metric: &str) -> f64 {
        let agent = key
            .strip_prefix("agent:")
            .or_else(|| key.strip_prefix("category:"))
            .and_then(|a| self.per_agent.get(a));
        match metric {
            "success_rate" => agent
                .and_then(|a| a.success_rate_drop)
                .unwrap_or(self.success_rate_drop),
            "max_memory" => self.memory,
            "max_cpu" => self.cpu,
            _ => agent.and_then(|a| a.latency).unwrap_or_else(|| {
                self.latency_metrics
                    .get(metric)
                    .copied()
                    .unwrap_or(self.latency)
            }),
        }
    }
}

/// How verdicts are decided. The defaults are the ones evaluated in
/// `docs/regression-detection.md`; change them only with that evaluation in hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompareOptions {
    /// Two-sided significance level of every test and `1 - alpha` the interval level.
    pub alpha: f64,
    /// Share of the threshold the point estimate must reach for a regression (with
    /// significance). Below 1 so a change *at* the threshold is caught most of the time.
    pub effect_floor: f64,
    /// Power at which [`perf_core::record::MetricVerdict::min_detectable_change`] is computed.
    pub power: f64,
    /// Run-to-run noise of a whole run on a shared machine, as a log-scale standard
    /// deviation (0.02 ≈ 2%): added to the sampling error of latency and resource metrics,
    /// which a single run cannot see.
    pub run_noise: f64,
    /// Compare per-agent keys.
    pub agents: bool,
    /// Compare per-category keys.
    pub categories: bool,
    /// Compare per-scenario keys.
    pub scenarios: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            alpha: 0.01,
            effect_floor: 0.7,
            power: 0.8,
            run_noise: 0.02,
            agents: true,
            categories: false,
            scenarios: false,
        }
    }
}

impl CompareOptions {
    /// Checks that every value is in range.
    pub fn validate(&self) -> Result<(), BaselineError> {
        let open_unit = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(BaselineError::config(
                    key,
                    format!("{v} is out of range: use a number strictly between 0 and 1"),
                ))
            }
        };
        open_unit("compare.alpha", self.alpha)?;
        open_unit("compare.power", self.power)?;
        if !(self.effect_floor.is_finite() && self.effect_floor > 0.0 && self.effect_floor <= 1.0) {
            return Err(BaselineError::config(
                "compare.effect_floor",
                format!(
                    "{} is out of range: use a number above 0 and at most 1",
                    self.effect_floor
                ),
            ));
        }
        if !(self.run_noise.is_finite() && (0.0..1.0).contains(&self.run_noise)) {
            return Err(BaselineError::config(
                "compare.run_noise",
                format!(
                    "{} is out of range: use a number from 0 up to 1",
                    self.run_noise
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_agent_and_per_metric_overrides_apply() {
        let t: Thresholds = serde_json::from_str(
            r#"{"latency": 0.1, "latency_metrics": {"latency_p99": 0.3, "ttft_p95": 0.5},
                "per_agent": {"digest_generation": {"latency": 0.25}}}"#,
        )
        .unwrap();
        t.validate().unwrap();
        assert_eq!(t.for_metric("overall", "latency_mean"), 0.1);
        assert_eq!(t.for_metric("overall", "latency_p99"), 0.3);
        assert_eq!(t.for_metric("overall", "ttft_p95"), 0.5);
        assert_eq!(
            t.for_metric("overall", "ttft_median"),
            0.1,
            "streaming metrics fall back to the latency threshold"
        );
        assert_eq!(t.for_metric("agent:digest_generation", "latency_p99"), 0.25);
        assert_eq!(
            t.for_metric("category:digest_generation", "latency_mean"),
            0.25
        );
        assert_eq!(
            t.for_metric("agent:digest_generation", "success_rate"),
            0.05
        );
        assert_eq!(t.for_metric("overall", "max_memory"), 0.2);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_by_name() {
        let err = serde_json::from_str::<Thresholds>(r#"{"latncy": 0.1}"#).unwrap_err();
        assert!(err.to_string().contains("latncy"));
        let t = Thresholds {
            latency_metrics: [("latency_p42".to_owned(), 0.1)].into(),
            ..Thresholds::default()
        };
        assert!(t
            .validate()
            .unwrap_err()
            .to_string()
            .contains("latency_p42"));
        let t = Thresholds::with_latency(-1.0);
        assert!(t
            .validate()
            .unwrap_err()
            .to_string()
            .contains("thresholds.latency"));
        let o = CompareOptions {
            alpha: 1.5,
            ..CompareOptions::default()
        };
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .contains("compare.alpha"));
        CompareOptions::default().validate().unwrap();
    }
}
