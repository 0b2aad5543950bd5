use serde::{Deserialize, Serialize};

/// The verdict on one metric against a baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No change beyond the threshold that the data can show.
    Pass,
    /// Worse beyond the threshold, and statistically significant.
    Regression,
    /// Better beyond the threshold, and statistically significant.
    Improvement,
    /// The data cannot decide (too few samples, or an interval straddling the threshold).
    Inconclusive,
}

impl Verdict {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric of one key compared with its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// The group: `overall`, `agent:<name>`, `category:<name>` or `scenario:<name>`.
    pub key: String,
    /// The metric: `latency_mean`, `latency_p95`, `success_rate`, `max_memory`, ...
    pub metric: String,
    /// Baseline value (ms, rate 0–1, MiB or percent, by metric).
    pub baseline: f64,
    /// Current value, same unit.
    pub current: f64,
    /// `(current - baseline) / baseline` (for success rate: the difference in points, 0–1).
    pub relative_change: f64,
    /// Confidence interval of the change, same unit as `relative_change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<(f64, f64)>,
    /// p-value of the test used, when one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Smallest change the data could have detected, same unit as `relative_change`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_detectable_change: Option<f64>,
    /// The threshold the change is held against.
    pub threshold: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, in one line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// A run compared with a named baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Baseline name.
    pub baseline: String,
    /// When the baseline was made, RFC 3339.
    #[serde(default)]
    pub baseline_created_at: String,
    /// Differences between the baseline's environment and this run's (empty when the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_differences: Vec<String>,
    /// Per metric and key.
    pub verdicts: Vec<MetricVerdict>,
    /// Regression when any verdict is one; otherwise inconclusive when a primary verdict
    /// (the overall median, success rate, memory or CPU) is; else pass. Screening verdicts
    /// (per-agent keys, mean, P95, P99) can fail a run but not make it inconclusive.
    pub overall: Verdict,
}

/// The result of one named check (a critical path, a gate check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Group of checks: `critical_path`, `gate`, `robustness`, ...
    pub group: String,
    /// Check name.
    pub name: String,
    /// Passed or not.
    pub passed: bool,
    /// One line: why it passed or failed.
    pub reason: String,
}

/// One metric across past runs, with where a lasting shift began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendSeries {
    /// Metric name, as in [`MetricVerdict::metric`].
    pub metric: String,
    /// `(run_id, started_at, value)`, oldest first.
    pub points: Vec<(String, String, f64)>,
    /// Index into `points` where a lasting shift began, if one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_point: Option<usize>,
    /// Least-squares slope, value units per run.
    pub slope_per_run: f64,
}
