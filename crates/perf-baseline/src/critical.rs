use perf_core::record::{CheckResult, GroupStats, RunResult};
use serde::{Deserialize, Serialize};

/// Limits every critical path must meet (phase 6, `regression_testing`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CriticalPathLimits {
    /// Smallest acceptable success rate, 0–1.
    pub min_success_rate: f64,
    /// Largest acceptable P95 latency in milliseconds; `None` checks no latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_p95_ms: Option<f64>,
    /// Largest acceptable P95 time to first token of streamed answers, ms; `None` checks
    /// none. A path whose answers did not stream fails it as not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ttft_p95_ms: Option<f64>,
    /// Largest acceptable P95 inter-token latency (each streamed answer's mean gap between
    /// pieces), ms; `None` checks none. Not measured fails it, as for the TTFT limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_itl_p95_ms: Option<f64>,
    /// Whether queries meant for the path must be routed to its agent.
    pub routing_required: bool,
    /// Smallest acceptable share of correctly routed answers when routing is required.
    pub min_routing_accuracy: f64,
}

impl Default for CriticalPathLimits {
    fn default() -> Self {
        Self {
            min_success_rate: 0.9,
            max_p95_ms: None,
            max_ttft_p95_ms: None,
            max_itl_p95_ms: None,
            routing_required: true,
            min_routing_accuracy: 1.0,
        }
    }
}

/// Phase 6: one check per critical path (group `critical_path`, named after the path),
/// each with a one-line reason.
///
/// A path's queries are those of the category named after it (the standard queries'
/// categories are their agents); when no such category exists, those answered by the
/// agent of that name. A path with no queries fails: it was not tested.
pub fn critical_path_checks(
    run: &RunResult,
    paths: &[String],
    limits: &CriticalPathLimits,
) -> Vec<CheckResult> {
    paths
        .iter()
        .map(|path| {
            let group = run
                .per_category
                .get(path)
                .or_else(|| run.per_agent.get(path));
            let (passed, reason) = match group {
                Some(g) if g.count > 0 => judge(g, limits),
                _ => (false, "no queries ran for this path".to_owned()),
            };
            CheckResult {
                group: perf_core::record::CheckGroup::CriticalPath,
                name: path.clone(),
                status: perf_core::record::CheckStatus::from_passed(passed),
                reason,
            }
        })
        .collect()
}

fn judge(g: &GroupStats, limits: &CriticalPathLimits) -> (bool, String) {
    let mut failures = Vec::new();
    let mut facts = Vec::new();
    let rate = g.success_rate();
    let fact = format!(
        "{}/{} ok ({:.1}%, min {:.1}%)",
        g.successes,
        g.count,
        100.0 * rate,
        100.0 * limits.min_success_rate
    );
    if rate < limits.min_success_rate {
        failures.push(fact);
    } else {
        facts.push(fact);
    }
    if let Some(max) = limits.max_p95_ms {
        let p95 = g.latency.percentile_micros(95.0) as f64 / 1000.0;
        let fact = format!("p95 {p95:.0} ms (max {max:.0} ms)");
        if g.latency.is_empty() || p95 > max {
            failures.push(fact);
        } else {
            facts.push(fact);
        }
    }
    // Streaming limits: a path that streamed nothing was not measured, which is not a
    // pass on 0 ms.
    for (max, hist, what, unmeasured) in [
        (
            limits.max_ttft_p95_ms,
            &g.ttft,
            "TTFT",
            "no answer was streamed",
        ),
        (
            limits.max_itl_p95_ms,
            &g.itl,
            "ITL",
            "no answer was streamed in two pieces or more",
        ),
    ] {
        let Some(max) = max else { continue };
        if hist.is_empty() {
            failures.push(format!(
                "{what} p95 not measured: {unmeasured} (max {max:.0} ms)"
            ));
            continue;
        }
        let p95 = hist.percentile_micros(95.0) as f64 / 1000.0;
        let fact = format!("{what} p95 {p95:.0} ms (max {max:.0} ms)");
        if p95 > max {
            failures.push(fact);
        } else {
            facts.push(fact);
        }
    }
    if limits.routing_required {
        let r = g.routing;
        let fact = format!("routing {}/{} to the expected agent", r.correct, r.checked);
        match r.accuracy() {
            Some(acc) if acc >= limits.min_routing_accuracy => facts.push(fact),
            Some(_) => failures.push(fact),
            // No query of the path named an agent (the grounding step found the bot's
            // agents are not ours, or the user's questions name none): not judged.
            None => {
                facts.push("routing not judged: no answered query named an expected agent".into())
            }
        }
    }
    if failures.is_empty() {
        (true, facts.join(", "))
    } else {
        (false, format!("failed: {}", failures.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimulatedRun;
    use perf_core::SplitMix64;

    #[test]
    fn one_check_per_path_with_reasons() {
        let run = SimulatedRun {
            queries: 80,
            error_rate: 0.0,
            ..SimulatedRun::default()
        }
        .draw("r", &mut SplitMix64::new(1));
        let paths: Vec<String> = ["server_analysis", "digest_generation", "missing_path"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let limits = CriticalPathLimits {
            max_p95_ms: Some(150.0),
            ..CriticalPathLimits::default()
        };
        let checks = critical_path_checks(&run, &paths, &limits);
        assert_eq!(checks.len(), 3);
        assert!(checks
            .iter()
            .all(|c| c.group == perf_core::record::CheckGroup::CriticalPath));
        assert!(checks[0].passed(), "{}", checks[0].reason);
        assert!(
            checks[0].reason.contains("20/20 ok"),
            "{}",
            checks[0].reason
        );
        // Digest answers take ~120 ms median: their p95 is beyond 150 ms.
        assert!(!checks[1].passed());
        assert!(checks[1].reason.contains("p95"), "{}", checks[1].reason);
        assert!(!checks[2].passed());
        assert!(checks[2].reason.contains("no queries"));
        assert!(checks.iter().all(|c| !c.reason.contains('\n')));
    }

    #[test]
    fn streaming_limits_fail_when_exceeded_and_when_not_measured() {
        let draw = |ttft_ms: Option<f64>| {
            SimulatedRun {
                queries: 80,
                ttft_ms,
                ..SimulatedRun::default()
            }
            .draw("r", &mut SplitMix64::new(3))
        };
        let paths = ["semantic_search".to_owned()];
        let limits = |ttft: f64, itl: f64| CriticalPathLimits {
            max_ttft_p95_ms: Some(ttft),
            max_itl_p95_ms: Some(itl),
            ..CriticalPathLimits::default()
        };
        // Median TTFT 200 ms (P95 about 300 ms), ITL 20 ms.
        let streamed = draw(Some(200.0));
        let ok = &critical_path_checks(&streamed, &paths, &limits(1000.0, 100.0))[0];
        assert!(ok.passed(), "{}", ok.reason);
        assert!(ok.reason.contains("TTFT p95") && ok.reason.contains("(max 1000 ms)"));
        assert!(ok.reason.contains("ITL p95"), "{}", ok.reason);
        let slow = &critical_path_checks(&streamed, &paths, &limits(150.0, 100.0))[0];
        assert!(!slow.passed());
        assert!(
            slow.reason.starts_with("failed: TTFT p95"),
            "{}",
            slow.reason
        );
        assert!(slow.reason.contains("(max 150 ms)"), "{}", slow.reason);
        let choppy = &critical_path_checks(&streamed, &paths, &limits(1000.0, 5.0))[0];
        assert!(!choppy.passed());
        assert!(
            choppy.reason.contains("failed: ITL p95"),
            "{}",
            choppy.reason
        );

        let plain = draw(None);
        let unmeasured = &critical_path_checks(&plain, &paths, &limits(1000.0, 100.0))[0];
        assert!(!unmeasured.passed(), "never a pass on 0 ms");
        assert!(
            unmeasured
                .reason
                .contains("TTFT p95 not measured: no answer was streamed"),
            "{}",
            unmeasured.reason
        );
        assert!(unmeasured.reason.contains("ITL p95 not measured"));
        // Without the limits, a path that did not stream is judged as before.
        let before = &critical_path_checks(&plain, &paths, &CriticalPathLimits::default())[0];
        assert!(before.passed(), "{}", before.reason);
        assert!(!before.reason.contains("TTFT"));
    }

    #[test]
    fn failures_and_misroutes_fail_the_path() {
        let run = SimulatedRun {
            queries: 400,
            error_rate: 0.3,
            ..SimulatedRun::default()
        }
        .draw("r", &mut SplitMix64::new(2));
        let checks = critical_path_checks(
            &run,
            &["user_analysis".to_owned()],
            &CriticalPathLimits::default(),
        );
        assert!(!checks[0].passed());
        assert!(
            checks[0].reason.starts_with("failed:"),
            "{}",
            checks[0].reason
        );
    }
}
