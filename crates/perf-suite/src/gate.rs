//! The deployment gate's four checks, computed from a finished run.

use perf_core::record::{CheckResult, CheckStatus, RunResult, Verdict};

use crate::ResourceLimits;

/// Check group of the gate's four checks.
pub const GATE_GROUP: perf_core::record::CheckGroup = perf_core::record::CheckGroup::Gate;

/// What an inconclusive baseline verdict means for the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInconclusive {
    /// Pass (the data could not show a regression).
    #[default]
    Pass,
    /// Fail (the data could not show there is none).
    Fail,
}

/// Settings of the gate's checks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateOptions {
    /// Inconclusive baseline verdicts.
    pub on_inconclusive: OnInconclusive,
    /// Peak target resources.
    pub resources: ResourceLimits,
    /// This run becomes the baseline (`--update-baseline`): a missing one is not news.
    pub update_baseline: bool,
}

/// The gate's checks: critical paths, baseline validation, resource validation and
/// edge-case handling, each passing or failing with a one-line reason. They summarise the
/// run's own checks (group `critical_path`, `baseline`, `robustness`) and its comparison.
///
/// Latency limits, streaming ones included (`max_p95_ms`, `max_ttft_p95_ms`,
/// `max_itl_p95_ms` of `regression_testing.limits`), are judged per path by
/// [`perf_baseline::critical_path_checks`] and reach the gate through `critical_paths`; a
/// streaming limit on a path that streamed nothing fails there as "not measured".
pub fn gate_checks(result: &RunResult, options: &GateOptions) -> Vec<CheckResult> {
    let check = |name: &str, status: CheckStatus, reason: String| CheckResult {
        group: GATE_GROUP,
        name: name.to_owned(),
        status,
        reason,
    };
    vec![
        check_group(
            result,
            perf_core::record::CheckGroup::CriticalPath,
            "critical paths",
        )
        .map_or_else(
            || {
                check(
                    "critical_paths",
                    CheckStatus::Failed,
                    "no critical path was checked".to_owned(),
                )
            },
            |(status, reason)| check("critical_paths", status, reason),
        ),
        {
            let (status, reason) =
                baseline_validation(result, options.on_inconclusive, options.update_baseline);
            check("baseline_validation", status, reason)
        },
        {
            let (status, reason) = resource_validation(result, &options.resources);
            check(RESOURCE_CHECK, status, reason)
        },
        check_group(
            result,
            perf_core::record::CheckGroup::Robustness,
            "edge-case classes",
        )
        .map_or_else(
            || {
                check(
                    "edge_case_handling",
                    CheckStatus::Failed,
                    "no edge cases ran".to_owned(),
                )
            },
            |(status, reason)| check("edge_case_handling", status, reason),
        ),
    ]
}

/// Fails when a check of `group` failed; not measured when none of them was measured;
/// else passes, naming the ones not measured. `None` when the group is empty.
fn check_group(
    result: &RunResult,
    group: perf_core::record::CheckGroup,
    what: &str,
) -> Option<(CheckStatus, String)> {
    let checks: Vec<&CheckResult> = result.checks.iter().filter(|c| c.group == group).collect();
    if checks.is_empty() {
        return None;
    }
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| format!("{}: {}", c.name, c.reason))
        .collect();
    let unmeasured: Vec<&str> = checks
        .iter()
        .filter(|c| c.unmeasured())
        .map(|c| c.name.as_str())
        .collect();
    Some(if !failed.is_empty() {
        (
            CheckStatus::Failed,
            format!(
                "{} of {} {what} failed — {}",
                failed.len(),
                checks.len(),
                failed.join("; ")
            ),
        )
    } else if unmeasured.len() == checks.len() {
        (
            CheckStatus::NotMeasured,
            format!("none of the {} {what} could be measured", checks.len()),
        )
    } else if unmeasured.is_empty() {
        (
            CheckStatus::Passed,
            format!("all {} {what} passed", checks.len()),
        )
    } else {
        (
            CheckStatus::Passed,
            format!(
                "{} of {} {what} passed; not measured: {}",
                checks.len() - unmeasured.len(),
                checks.len(),
                unmeasured.join(", ")
            ),
        )
    })
}

fn baseline_validation(
    result: &RunResult,
    on_inconclusive: OnInconclusive,
    update_baseline: bool,
) -> (CheckStatus, String) {
    let baseline_check = result
        .checks
        .iter()
        .find(|c| c.group == perf_core::record::CheckGroup::Baseline);
    let Some(cmp) = &result.comparison else {
        return match baseline_check {
            // No comparison although phase 5 ran: the baseline is missing. A gate baseline
            // must have the gate's query shape, so the gate is what makes it.
            Some(c) if update_baseline && !c.failed() => (
                CheckStatus::NotMeasured,
                format!(
                    "not measured: no baseline `{}` to compare with yet; this run becomes it (--update-baseline) when it completes",
                    c.name
                ),
            ),
            Some(c) => (
                if c.failed() { CheckStatus::Failed } else { CheckStatus::NotMeasured },
                format!(
                    "no baseline `{0}` to compare with ({1}); a gate baseline must have the gate's query shape: create it with `ci-gate --baseline {0} --update-baseline`",
                    c.name,
                    if c.failed() { "failing: --strict-baseline" } else { "not measured: the missing baseline is lenient" }
                ),
            ),
            None => (
                CheckStatus::NotMeasured,
                "not measured: baseline comparison is disabled".to_owned(),
            ),
        };
    };
    let describe = |v: &perf_core::record::MetricVerdict| {
        format!("{} {} {:+.1}%", v.key, v.metric, v.relative_change * 100.0)
    };
    let regressions: Vec<String> = cmp
        .verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Regression)
        .map(describe)
        .collect();
    // Screening verdicts (per-agent keys, tails) are honestly inconclusive at gate-sized
    // budgets; only the primary ones decide "cannot tell" (docs/regression-detection.md).
    let (screening, inconclusive): (Vec<_>, Vec<_>) = cmp
        .verdicts
        .iter()
        .filter(|v| v.verdict == Verdict::Inconclusive)
        .partition(|v| !v.primary);
    let inconclusive: Vec<String> = inconclusive.into_iter().map(describe).collect();
    let env = if cmp.environment_differences.is_empty() {
        String::new()
    } else {
        format!(
            " (baseline from a different environment: {})",
            cmp.environment_differences.join(", ")
        )
    };
    if !regressions.is_empty() {
        return (
            CheckStatus::Failed,
            format!(
                "{} regression(s) against `{}`: {}{env}",
                regressions.len(),
                cmp.baseline,
                regressions.join(", ")
            ),
        );
    }
    if !inconclusive.is_empty() && on_inconclusive == OnInconclusive::Fail {
        return (
            CheckStatus::Failed,
            format!(
                "{} inconclusive verdict(s) against `{}` (--on-inconclusive fail): {}{env}",
                inconclusive.len(),
                cmp.baseline,
                inconclusive.join(", ")
            ),
        );
    }
    (
        CheckStatus::Passed,
        format!(
            "no regression against `{}` in {} verdicts ({} primary and {} screening verdicts inconclusive){env}",
            cmp.baseline,
            cmp.verdicts.len(),
            inconclusive.len(),
            screening.len()
        ),
    )
}

/// Name of the gate's resource check.
pub const RESOURCE_CHECK: &str = "resource_validation";

/// Whether the run has readings of the target's process, so that the gate's resource
/// check measured something; when not, the check passes as "not measured" and `ci-gate`
/// shows it as SKIP.
pub fn resources_measured(result: &RunResult) -> bool {
    let p = &result.resource_peaks;
    p.samples > 0 && (p.max_target_memory_mb.is_some() || p.max_target_cpu_percent.is_some())
}

fn resource_validation(result: &RunResult, limits: &ResourceLimits) -> (CheckStatus, String) {
    let p = &result.resource_peaks;
    // Nothing measured is not a pass: a gate without readings is not blocked, and the
    // check is never "within limits".
    if p.samples == 0 {
        return (
            CheckStatus::NotMeasured,
            "not measured: no resource readings (resource_monitoring off or the run too short); the limits were not checked".to_owned(),
        );
    }
    if p.max_target_memory_mb.is_none() && p.max_target_cpu_percent.is_none() {
        return (
            CheckStatus::NotMeasured,
            "not measured: the target's process was not monitored (an HTTP target, or the process could not be read); the limits were not checked".to_owned(),
        );
    }
    let mut over = Vec::new();
    if let Some(m) = p.max_target_memory_mb {
        if m > limits.max_memory_mb {
            over.push(format!("memory {m:.0} MB > {:.0} MB", limits.max_memory_mb));
        }
    }
    if let Some(c) = p.max_target_cpu_percent {
        if f64::from(c) > limits.max_cpu_percent {
            over.push(format!("CPU {c:.0}% > {:.0}%", limits.max_cpu_percent));
        }
    }
    let peaks = format!(
        "target peak memory {}, peak CPU {}",
        p.max_target_memory_mb
            .map_or("n/a".to_owned(), |m| format!("{m:.0} MB")),
        p.max_target_cpu_percent
            .map_or("n/a".to_owned(), |c| format!("{c:.0}%"))
    );
    if over.is_empty() {
        (CheckStatus::Passed, format!("{peaks}, within limits"))
    } else {
        (
            CheckStatus::Failed,
            format!("over the limit: {}", over.join(", ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::{Comparison, MetricVerdict, ResourceSample};
    use perf_core::TargetInfo;

    fn run_with(checks: &[(&str, bool)]) -> RunResult {
        let mut r = RunResult::new("r", "t", TargetInfo::default());
        for (group, passed) in checks {
            r.checks.push(CheckResult {
                group: serde_json::from_value(serde_json::json!(group)).unwrap(),
                name: format!("{group}-x"),
                status: perf_core::record::CheckStatus::from_passed(*passed),
                reason: "why".to_owned(),
            });
        }
        r
    }

    fn by_name<'a>(checks: &'a [CheckResult], name: &str) -> &'a CheckResult {
        checks.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn each_check_fails_for_its_own_reason() {
        let ok = run_with(&[
            ("critical_path", true),
            ("robustness", true),
            ("baseline", true),
        ]);
        let c = gate_checks(&ok, &GateOptions::default());
        assert_eq!(c.len(), 4);
        assert!(c.iter().all(|c| !c.failed()), "{c:?}");
        // No comparison (the baseline is missing, lenient) and no resource readings:
        // both are not measured, which is never shown as a pass.
        assert!(by_name(&c, "baseline_validation").unmeasured(), "{c:?}");
        assert!(by_name(&c, RESOURCE_CHECK).unmeasured(), "{c:?}");
        assert!(by_name(&c, "critical_paths").passed());
        // A run that becomes the baseline is not told to create it.
        let c = gate_checks(
            &ok,
            &GateOptions {
                update_baseline: true,
                ..GateOptions::default()
            },
        );
        let b = by_name(&c, "baseline_validation");
        assert!(b.unmeasured(), "{b:?}");
        assert!(
            b.reason.contains("this run becomes it") && !b.reason.contains("create it"),
            "{}",
            b.reason
        );

        let bad = run_with(&[("critical_path", false), ("robustness", true)]);
        let c = gate_checks(&bad, &GateOptions::default());
        assert!(!by_name(&c, "critical_paths").passed());
        assert!(by_name(&c, "critical_paths")
            .reason
            .contains("critical_path-x: why"));
        assert!(by_name(&c, "edge_case_handling").passed());

        let none = run_with(&[]);
        let c = gate_checks(&none, &GateOptions::default());
        assert!(!by_name(&c, "edge_case_handling").passed());
    }

    #[test]
    fn regressions_fail_and_inconclusive_follows_the_option() {
        let mut r = run_with(&[("critical_path", true), ("robustness", true)]);
        let verdict = |v: Verdict| MetricVerdict {
            key: "overall".into(),
            metric: "latency_p95".into(),
            baseline: 100.0,
            current: 150.0,
            relative_change: 0.5,
            interval: None,
            p_value: None,
            min_detectable_change: None,
            threshold: 0.15,
            verdict: v,
            reason: String::new(),
            primary: true,
        };
        r.comparison = Some(Comparison {
            baseline: "b".into(),
            baseline_created_at: String::new(),
            environment_differences: vec![],
            verdicts: vec![verdict(Verdict::Inconclusive)],
            overall: Verdict::Inconclusive,
        });
        let pass = gate_checks(&r, &GateOptions::default());
        assert!(by_name(&pass, "baseline_validation").passed());
        let strict = GateOptions {
            on_inconclusive: OnInconclusive::Fail,
            ..GateOptions::default()
        };
        assert!(!by_name(&gate_checks(&r, &strict), "baseline_validation").passed());
        if let Some(c) = r.comparison.as_mut() {
            c.verdicts.push(verdict(Verdict::Regression));
        }
        let c = gate_checks(&r, &GateOptions::default());
        let b = by_name(&c, "baseline_validation");
        assert!(!b.passed());
        assert!(
            b.reason.contains("overall latency_p95 +50.0%"),
            "{}",
            b.reason
        );
    }

    /// A run of 40 answered `semantic_search` queries, streamed with a time to first token
    /// of 200–239 ms when `streamed`.
    fn semantic_run(streamed: bool) -> RunResult {
        let mut r = run_with(&[("robustness", true)]);
        for i in 0..40u64 {
            let plain = perf_core::Sample {
                expected_agent: Some("semantic_search".into()),
                agent: Some("semantic_search".into()),
                ..perf_core::Sample::new(
                    format!("q{i}"),
                    "standard",
                    "semantic_search",
                    perf_core::Outcome::Ok,
                    900_000,
                )
            };
            r.record(&if streamed {
                perf_core::Sample {
                    ttft_us: Some(200_000 + i * 1_000),
                    itl_us: Some(20_000),
                    tpot_us: Some(15_000),
                    output_tokens: Some(50),
                    ..plain
                }
            } else {
                plain
            });
        }
        r.wall_time_s = 4.0;
        r
    }

    #[test]
    fn streaming_limits_fail_the_gate_when_exceeded_and_when_not_measured() {
        let gate = |r: &mut RunResult, max_ttft_p95_ms: f64| {
            let limits = perf_baseline::CriticalPathLimits {
                max_ttft_p95_ms: Some(max_ttft_p95_ms),
                ..perf_baseline::CriticalPathLimits::default()
            };
            r.checks.extend(perf_baseline::critical_path_checks(
                r,
                &["semantic_search".to_owned()],
                &limits,
            ));
            let checks = gate_checks(r, &GateOptions::default());
            by_name(&checks, "critical_paths").clone()
        };
        let within = gate(&mut semantic_run(true), 300.0);
        assert!(within.passed(), "{}", within.reason);
        let over = gate(&mut semantic_run(true), 150.0);
        assert!(!over.passed());
        assert!(
            over.reason
                .contains("semantic_search: failed: TTFT p95 237 ms (max 150 ms)"),
            "{}",
            over.reason
        );
        let unmeasured = gate(&mut semantic_run(false), 300.0);
        assert!(!unmeasured.passed(), "never a pass on 0 ms");
        assert!(
            unmeasured
                .reason
                .contains("TTFT p95 not measured: no answer was streamed (max 300 ms)"),
            "{}",
            unmeasured.reason
        );
    }

    /// Issue #16 D10: nothing measured is "not measured", never "within limits".
    #[test]
    fn resources_not_measured_are_said_so() {
        let r = run_with(&[]);
        assert!(!resources_measured(&r));
        let c = gate_checks(&r, &GateOptions::default());
        let res = by_name(&c, RESOURCE_CHECK);
        assert!(res.reason.starts_with("not measured"), "{}", res.reason);
        let mut system_only = run_with(&[]);
        system_only.resource_peaks.observe(&ResourceSample {
            system_memory_mb: 900.0,
            ..ResourceSample::default()
        });
        assert!(!resources_measured(&system_only));
        let c = gate_checks(&system_only, &GateOptions::default());
        let res = by_name(&c, RESOURCE_CHECK);
        assert!(
            res.reason.contains("not measured") && !res.reason.contains("within limits"),
            "{}",
            res.reason
        );
        let mut measured = run_with(&[]);
        measured.resource_peaks.observe(&ResourceSample {
            target_memory_mb: Some(100.0),
            target_cpu_percent: Some(5.0),
            ..ResourceSample::default()
        });
        assert!(resources_measured(&measured));
        let c = gate_checks(&measured, &GateOptions::default());
        assert!(by_name(&c, RESOURCE_CHECK).reason.contains("within limits"));
    }

    /// Issue #16 D10: the gate's missing-baseline reason names the gate's own command.
    #[test]
    fn a_missing_baseline_points_at_the_gate_command() {
        let mut r = run_with(&[]);
        r.checks.push(CheckResult {
            group: perf_core::record::CheckGroup::Baseline,
            name: "gate_b".to_owned(),
            status: perf_core::record::CheckStatus::from_passed(true),
            reason: "no baseline".to_owned(),
        });
        let c = gate_checks(&r, &GateOptions::default());
        let b = by_name(&c, "baseline_validation");
        assert!(
            b.reason
                .contains("ci-gate --baseline gate_b --update-baseline")
                && !b.reason.contains("orchestrator"),
            "{}",
            b.reason
        );
    }

    #[test]
    fn resources_over_the_limit_fail() {
        let mut r = run_with(&[]);
        r.resource_peaks.observe(&ResourceSample {
            target_memory_mb: Some(3000.0),
            target_cpu_percent: Some(50.0),
            ..ResourceSample::default()
        });
        let c = gate_checks(&r, &GateOptions::default());
        let res = by_name(&c, "resource_validation");
        assert!(!res.passed());
        assert!(
            res.reason.contains("memory 3000 MB > 2048 MB"),
            "{}",
            res.reason
        );
    }
}
