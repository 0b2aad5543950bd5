use perf_core::record::{RunResult, Verdict};
use serde::{Deserialize, Serialize};

/// The overall verdict of a run, as shown on banners and mapped to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check passed and nothing regressed.
    Pass,
    /// Nothing failed, but the result needs a look (inconclusive comparison, interrupted
    /// run, no samples, saturated harness).
    Warn,
    /// A check failed or the baseline comparison found a regression.
    Fail,
}

impl Status {
    /// `PASS`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The overall verdict of a run with the reasons for it and the figures a banner shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallStatus {
    /// The verdict.
    pub status: Status,
    /// Why the verdict is not `pass`, one line each, most severe first (empty on pass).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The run was cut short; the figures cover what ran.
    pub interrupted: bool,
    /// Samples recorded.
    pub total: u64,
    /// Samples that did not succeed.
    pub failures: u64,
    /// `successes / total` (0 when empty).
    pub success_rate: f64,
    /// Checks that failed.
    pub failed_checks: usize,
    /// Comparison verdicts that are regressions.
    pub regressions: usize,
    /// Comparison verdicts that are inconclusive.
    pub inconclusive: usize,
    /// The run's notes, for the banner.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl OverallStatus {
    /// One line for banners: `FAIL: 2 checks failed, 1 regression (1,000 queries, 97.5% ok)`.
    pub fn headline(&self) -> String {
        let mut s = self.status.label().to_owned();
        if self.interrupted {
            s.push_str(" (interrupted)");
        }
        if !self.reasons.is_empty() {
            s.push_str(": ");
            s.push_str(&self.reasons.join("; "));
        }
        s.push_str(&format!(
            " — {} queries, {} ok",
            crate::fmt::count(self.total),
            crate::fmt::percent(self.success_rate)
        ));
        s
    }
}

/// Derives the overall verdict of a run; every report and binary uses this one function.
///
/// - `fail` when any check failed or any baseline comparison verdict is a regression
///   (or the comparison's overall verdict is);
/// - otherwise `warn` when the comparison has inconclusive verdicts, the run was
///   interrupted, no sample was recorded, or the harness saturated a core (latencies are
///   then suspect);
/// - otherwise `pass`.
///
/// The success rate is shown but judged only through checks (the gate's thresholds live
/// there), so a run without checks is not failed for a rate nobody set a limit on.
pub fn overall_status(result: &RunResult) -> OverallStatus {
    let failed_checks: Vec<_> = result.checks.iter().filter(|c| c.failed()).collect();
    let (regressions, inconclusive, comparison_regressed) = match &result.comparison {
        Some(c) => (
            c.verdicts
                .iter()
                .filter(|v| v.verdict == Verdict::Regression)
                .count(),
            c.verdicts
                .iter()
                .filter(|v| v.verdict == Verdict::Inconclusive)
                .count(),
            c.overall == Verdict::Regression,
        ),
        None => (0, 0, false),
    };
    let mut fail = Vec::new();
    let mut warn = Vec::new();
    if !failed_checks.is_empty() {
        let names: Vec<String> = failed_checks
            .iter()
            .take(5)
            .map(|c| format!("{}/{}", c.group, c.name))
            .collect();
        let more = failed_checks.len().saturating_sub(names.len());
        fail.push(format!(
            "{} failed ({}{})",
            plural(failed_checks.len(), "check"),
            names.join(", "),
            if more > 0 {
                format!(", +{more} more")
            } else {
                String::new()
            }
        ));
    }
    if regressions > 0 {
        fail.push(format!(
            "{} against the baseline",
            plural(regressions, "regression")
        ));
    } else if comparison_regressed {
        fail.push("the baseline comparison reports a regression".to_owned());
    }
    if inconclusive > 0 {
        warn.push(format!(
            "{} inconclusive against the baseline",
            plural(inconclusive, "metric")
        ));
    } else if result
        .comparison
        .as_ref()
        .is_some_and(|c| c.overall == Verdict::Inconclusive)
    {
        warn.push("the baseline comparison is inconclusive".to_owned());
    }
    if result.interrupted {
        warn.push("the run was interrupted; figures cover what ran".to_owned());
    }
    if result.overall.count == 0 {
        warn.push("no queries were recorded".to_owned());
    }
    if result.resource_peaks.harness_saturated {
        warn.push("the harness saturated a CPU core; latencies may be inflated".to_owned());
    }
    let status = if !fail.is_empty() {
        Status::Fail
    } else if !warn.is_empty() {
        Status::Warn
    } else {
        Status::Pass
    };
    fail.extend(warn);
    OverallStatus {
        status,
        reasons: fail,
        interrupted: result.interrupted,
        total: result.overall.count,
        failures: result.overall.failures(),
        success_rate: result.overall.success_rate(),
        failed_checks: failed_checks.len(),
        regressions,
        inconclusive,
        notes: result.notes.clone(),
    }
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::{CheckResult, Comparison, MetricVerdict};
    use perf_core::TargetInfo;

    fn verdict(v: Verdict) -> MetricVerdict {
        MetricVerdict {
            key: "overall".into(),
            metric: "latency_p95".into(),
            baseline: 100.0,
            current: 130.0,
            relative_change: 0.3,
            interval: Some((0.2, 0.4)),
            p_value: Some(0.001),
            min_detectable_change: None,
            threshold: 0.15,
            verdict: v,
            reason: String::new(),
            primary: true,
        }
    }

    fn run() -> RunResult {
        let mut r = RunResult::new("r", "t", TargetInfo::default());
        r.overall.count = 10;
        r.overall.successes = 10;
        r
    }

    #[test]
    fn clean_run_passes() {
        let s = overall_status(&run());
        assert_eq!(s.status, Status::Pass);
        assert!(s.reasons.is_empty());
        assert_eq!(s.success_rate, 1.0);
    }

    #[test]
    fn failed_check_or_regression_fails() {
        let mut r = run();
        r.checks.push(CheckResult {
            group: perf_core::record::CheckGroup::CriticalPath,
            name: "semantic_search".into(),
            status: perf_core::record::CheckStatus::from_passed(false),
            reason: "p95 too high".into(),
        });
        let s = overall_status(&r);
        assert_eq!(s.status, Status::Fail);
        assert!(s.reasons[0].contains("critical_path/semantic_search"));

        let mut r = run();
        r.comparison = Some(Comparison {
            baseline: "b".into(),
            baseline_created_at: String::new(),
            environment_differences: Vec::new(),
            verdicts: vec![verdict(Verdict::Regression), verdict(Verdict::Inconclusive)],
            overall: Verdict::Regression,
        });
        let s = overall_status(&r);
        assert_eq!(s.status, Status::Fail);
        assert_eq!((s.regressions, s.inconclusive), (1, 1));
        assert_eq!(s.reasons.len(), 2, "{:?}", s.reasons);
    }

    #[test]
    fn inconclusive_or_interrupted_warns() {
        let mut r = run();
        r.comparison = Some(Comparison {
            baseline: "b".into(),
            baseline_created_at: String::new(),
            environment_differences: Vec::new(),
            verdicts: vec![verdict(Verdict::Inconclusive), verdict(Verdict::Pass)],
            overall: Verdict::Inconclusive,
        });
        assert_eq!(overall_status(&r).status, Status::Warn);

        let mut r = run();
        r.interrupted = true;
        let s = overall_status(&r);
        assert_eq!(s.status, Status::Warn);
        assert!(s.headline().starts_with("WARN (interrupted)"));

        let empty = RunResult::new("r", "t", TargetInfo::default());
        assert_eq!(overall_status(&empty).status, Status::Warn);
    }
}
