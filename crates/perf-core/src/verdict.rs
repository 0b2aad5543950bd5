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
#[serde(from = "StoredMetricVerdict")]
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
    /// A primary verdict (the overall median, success rate, memory, CPU) can make a
    /// comparison inconclusive; a screening one (per-key, tails) can only fail it. Files
    /// written before this field read as primary unless their reason starts with
    /// `screening:`, which is how they said it.
    pub primary: bool,
}

/// [`MetricVerdict`] as stored, `primary` optional for files written before it existed.
#[derive(Deserialize)]
struct StoredMetricVerdict {
    key: String,
    metric: String,
    baseline: f64,
    current: f64,
    relative_change: f64,
    #[serde(default)]
    interval: Option<(f64, f64)>,
    #[serde(default)]
    p_value: Option<f64>,
    #[serde(default)]
    min_detectable_change: Option<f64>,
    threshold: f64,
    verdict: Verdict,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    primary: Option<bool>,
}

impl From<StoredMetricVerdict> for MetricVerdict {
    fn from(v: StoredMetricVerdict) -> Self {
        // The one place the old encoding is read back: it is never written any more.
        let primary = v
            .primary
            .unwrap_or_else(|| !v.reason.starts_with("screening:"));
        Self {
            key: v.key,
            metric: v.metric,
            baseline: v.baseline,
            current: v.current,
            relative_change: v.relative_change,
            interval: v.interval,
            p_value: v.p_value,
            min_detectable_change: v.min_detectable_change,
            threshold: v.threshold,
            verdict: v.verdict,
            reason: v.reason,
            primary,
        }
    }
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

/// The kind of a named check; serialized as `critical_path`, `baseline`, `robustness` or
/// `gate`, the strings stored files have always had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckGroup {
    /// One critical path's success rate, routing and latency limits (phase 6).
    CriticalPath,
    /// The comparison with a baseline (phase 5).
    Baseline,
    /// One edge-case class (hostile input and the health of the bot after it).
    Robustness,
    /// One of the deployment gate's four checks.
    Gate,
    /// A distributed test's shards: all of them merged.
    Distributed,
    /// Whether the generated facts and agent names apply to the bot (`grounding`).
    Grounding,
    /// How a Discord bot lives with Discord: its event loop, rate limits, message length
    /// and reply channel (the discord target).
    Discord,
}

impl CheckGroup {
    /// The stable name: `critical_path`, `baseline`, `robustness`, `gate`, `distributed`,
    /// `grounding` or `discord`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckGroup::CriticalPath => "critical_path",
            CheckGroup::Baseline => "baseline",
            CheckGroup::Robustness => "robustness",
            CheckGroup::Gate => "gate",
            CheckGroup::Distributed => "distributed",
            CheckGroup::Grounding => "grounding",
            CheckGroup::Discord => "discord",
        }
    }

    /// The rule every check of this group is judged by, when the group has one rule for
    /// all its checks: reports state it once under a table, not in every row's reason.
    pub fn rule(self) -> Option<&'static str> {
        match self {
            CheckGroup::Robustness => Some(HEALTH_PROBE_RULE),
            _ => None,
        }
    }
}

/// The pass rule of a robustness health probe ([`CheckGroup::rule`] of
/// [`CheckGroup::Robustness`]).
pub const HEALTH_PROBE_RULE: &str = "a probe passes when it is answered in time, by the agent \
     that answered its control, failing no expectation its control met; the control is the \
     same query sent before any hostile input; without an answered control only expectations \
     on facts from the data may fail";

impl std::fmt::Display for CheckGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check ended: passed, failed, or not measured (nothing it could judge ran, or it
/// does not apply to this bot). Not measured is never a pass and never a failure: reports
/// show it as SKIP with its reason, JUnit as `<skipped/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check ran and held.
    Passed,
    /// The check ran and did not hold.
    Failed,
    /// The check could not be judged here; its reason says why and how to get it.
    NotMeasured,
}

impl CheckStatus {
    /// `Passed` when `passed`, else `Failed`.
    pub fn from_passed(passed: bool) -> Self {
        if passed {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        }
    }

    /// The snake_case name: `passed`, `failed`, `not_measured`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::NotMeasured => "not_measured",
        }
    }

    /// The short mark reports print: `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            CheckStatus::Passed => "PASS",
            CheckStatus::Failed => "FAIL",
            CheckStatus::NotMeasured => "SKIP",
        }
    }
}

impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one named check (a critical path, a gate check).
///
/// Stored with both `status` and the older `passed` (true only when passed), so readers
/// of either keep working; files with `passed` alone read as passed or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredCheckResult", into = "StoredCheckResult")]
pub struct CheckResult {
    /// The kind of check.
    pub group: CheckGroup,
    /// Check name.
    pub name: String,
    /// Passed, failed or not measured.
    pub status: CheckStatus,
    /// One line: why it passed, failed or was not measured.
    pub reason: String,
}

impl CheckResult {
    /// A check that ran: passed when `passed`, else failed.
    pub fn judged(
        group: CheckGroup,
        name: impl Into<String>,
        passed: bool,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            group,
            name: name.into(),
            status: CheckStatus::from_passed(passed),
            reason: reason.into(),
        }
    }

    /// A check that could not be judged; `reason` says why and how to get it measured.
    pub fn not_measured(
        group: CheckGroup,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            group,
            name: name.into(),
            status: CheckStatus::NotMeasured,
            reason: reason.into(),
        }
    }

    /// Whether it ran and held.
    pub fn passed(&self) -> bool {
        self.status == CheckStatus::Passed
    }

    /// Whether it ran and did not hold (a not-measured check has not failed).
    pub fn failed(&self) -> bool {
        self.status == CheckStatus::Failed
    }

    /// Whether it could not be judged.
    pub fn unmeasured(&self) -> bool {
        self.status == CheckStatus::NotMeasured
    }
}

/// [`CheckResult`] as stored: `status` is absent from files written before it existed.
#[derive(Serialize, Deserialize)]
struct StoredCheckResult {
    group: CheckGroup,
    name: String,
    passed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<CheckStatus>,
    reason: String,
}

impl From<StoredCheckResult> for CheckResult {
    fn from(c: StoredCheckResult) -> Self {
        Self {
            group: c.group,
            name: c.name,
            status: c
                .status
                .unwrap_or_else(|| CheckStatus::from_passed(c.passed)),
            reason: c.reason,
        }
    }
}

impl From<CheckResult> for StoredCheckResult {
    fn from(c: CheckResult) -> Self {
        Self {
            passed: c.passed(),
            group: c.group,
            name: c.name,
            status: Some(c.status),
            reason: c.reason,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contracts_serialize_to_the_strings_stored_files_have() {
        assert_eq!(
            serde_json::to_string(&CheckGroup::CriticalPath).unwrap(),
            r#""critical_path""#
        );
        let g: CheckGroup = serde_json::from_str(r#""gate""#).unwrap();
        assert_eq!(g, CheckGroup::Gate);
        assert!(serde_json::from_str::<CheckGroup>(r#""gaet""#).is_err());
    }

    #[test]
    fn checks_store_a_status_and_files_without_one_read_from_passed() {
        let skip = CheckResult::not_measured(CheckGroup::Baseline, "main", "no baseline yet");
        let v = serde_json::to_value(&skip).unwrap();
        assert_eq!(v["status"], "not_measured");
        assert_eq!(v["passed"], false, "never stored as a pass");
        let back: CheckResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, skip);
        assert!(back.unmeasured() && !back.passed() && !back.failed());
        for (passed, status) in [(true, CheckStatus::Passed), (false, CheckStatus::Failed)] {
            let old: CheckResult = serde_json::from_value(serde_json::json!({
                "group": "gate", "name": "x", "passed": passed, "reason": "r",
            }))
            .unwrap();
            assert_eq!(old.status, status);
        }
        assert!(serde_json::from_value::<CheckResult>(serde_json::json!({
            "group": "gate", "name": "x", "passed": true, "status": "skipped", "reason": "r",
        }))
        .is_err());
    }

    #[test]
    fn verdicts_from_before_the_primary_flag_read_it_from_their_reason() {
        let old = |reason: &str| {
            serde_json::from_value::<MetricVerdict>(serde_json::json!({
                "key": "overall", "metric": "latency_p95", "baseline": 1.0, "current": 1.0,
                "relative_change": 0.0, "threshold": 0.15, "verdict": "inconclusive",
                "reason": reason,
            }))
            .unwrap()
        };
        assert!(old("too few samples").primary);
        assert!(!old("screening: too few samples").primary);
        let v = old("screening: x");
        let back: MetricVerdict =
            serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v, "the flag is written and read back");
    }
}
