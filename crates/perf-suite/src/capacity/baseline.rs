//! The gate's comparison of a capacity search with the capacity stored in the baseline
//! (`ci-gate --capacity`; `docs/capacity.md`, "Gate").

use perf_baseline::{describe_capacity, BaselineCapacity};
use perf_core::record::{CapacityAnswer, CapacityReport, CheckResult, Slos};

/// Name of the gate's check against the baseline's capacity.
pub const CAPACITY_BASELINE_CHECK: &str = "capacity_baseline";

/// Compares `report` (this run's search) with the capacity stored in baseline
/// `baseline_name` (`stored`), as the gate's check `capacity_baseline` (group `gate`).
///
/// - Objectives different from the stored ones: refused, and the check fails (a capacity
///   is only comparable under the same objectives); the reason names both.
/// - No capacity shown by this run (no rate meets the SLOs, indeterminate, not measured):
///   fails, with the stored capacity in the reason.
/// - A capacity lower than the stored one by more than `max_drop` (a share: `0.2` = 20%)
///   **and** a clear drop (this run failed at a rate at or below the stored capacity, so
///   the two intervals do not overlap): fails, with both intervals in the reason.
/// - Lower by more than `max_drop` but the intervals overlap: passes, with a note that
///   it is not a clear drop.
/// - Otherwise passes, with the change.
/// - Nothing stored: passes saying so and how to store one, unless `strict` (then fails).
pub fn capacity_baseline_check(
    report: &CapacityReport,
    stored: Option<&BaselineCapacity>,
    baseline_name: &str,
    max_drop: f64,
    strict: bool,
) -> CheckResult {
    let (passed, reason) = judge(report, stored, baseline_name, max_drop, strict);
    CheckResult {
        group: crate::GATE_GROUP,
        name: CAPACITY_BASELINE_CHECK.to_owned(),
        status: perf_core::record::CheckStatus::from_passed(passed),
        reason,
    }
}

fn judge(
    report: &CapacityReport,
    stored: Option<&BaselineCapacity>,
    name: &str,
    max_drop: f64,
    strict: bool,
) -> (bool, String) {
    let store_hint =
        format!("store one with `ci-gate --baseline {name} --capacity --update-baseline`");
    let Some(stored) = stored else {
        return match &report.answer {
            CapacityAnswer::Found { rate, low, high } => (
                !strict,
                format!(
                    "baseline `{name}` holds no capacity to compare with ({}); this run: capacity {}; {store_hint}",
                    if strict { "failing: --strict-baseline" } else { "passing" },
                    describe_capacity(*rate, *low, *high)
                ),
            ),
            _ => (false, format!("no capacity was shown: {}", report.summary)),
        };
    };
    if stored.slos != report.slos {
        return (
            false,
            format!(
                "comparison refused: baseline `{name}`'s capacity was searched under other objectives ({}) than this run's ({}); capacities under different objectives are not comparable: {store_hint} under the new objectives",
                describe_slos(&stored.slos),
                describe_slos(&report.slos)
            ),
        );
    }
    let (rate, low, high) = match &report.answer {
        CapacityAnswer::Found { rate, low, high } => (*rate, *low, *high),
        _ => {
            return (
                false,
                format!(
                    "no capacity was shown (baseline `{name}`: {}): {}",
                    stored.describe(),
                    report.summary
                ),
            )
        }
    };
    let change = rate / stored.rate - 1.0;
    let now = describe_capacity(rate, low, high);
    let then = stored.describe();
    let beyond = rate < stored.rate * (1.0 - max_drop);
    // This run's interval ends where the baseline's begins: the intervals are apart (for
    // a bracket, this run failed at a rate the baseline's search passed).
    let clear = high.is_some_and(|h| h <= stored.low());
    match (beyond, clear) {
        (true, true) => (
            false,
            format!(
                "capacity dropped {:.1}% (more than the {:.0}% threshold): this run {now}, baseline `{name}` {then}",
                -change * 100.0,
                max_drop * 100.0
            ),
        ),
        (true, false) => (
            true,
            format!(
                "capacity {:.1}% below baseline `{name}`'s, beyond the {:.0}% threshold, but not a clear drop: the intervals overlap (this run {now}, baseline {then})",
                -change * 100.0,
                max_drop * 100.0
            ),
        ),
        (false, _) => (
            true,
            format!(
                "capacity {:+.1}% against baseline `{name}` (threshold −{:.0}%): this run {now}, baseline {then}",
                change * 100.0,
                max_drop * 100.0
            ),
        ),
    }
}

/// The objectives set, `key value` each: "latency_p95_ms 2000, success_rate 0.5".
fn describe_slos(s: &Slos) -> String {
    let parts: Vec<String> = [
        ("latency_p95_ms", s.latency_p95_ms),
        ("latency_p99_ms", s.latency_p99_ms),
        ("ttft_p95_ms", s.ttft_p95_ms),
        ("success_rate", s.success_rate),
        ("quality_floor", s.quality_floor),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| format!("{k} {v}")))
    .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(answer: CapacityAnswer, slos: Slos) -> CapacityReport {
        CapacityReport {
            run_id: "capacity-x".into(),
            answer,
            stop_reason: "why".into(),
            summary: "no rate meets the SLOs; at the lowest rate tried (1.000/s), ...".into(),
            ..CapacityReport::new(perf_core::TargetInfo::default(), slos)
        }
    }

    fn found(rate: f64, high: Option<f64>) -> CapacityAnswer {
        CapacityAnswer::Found {
            rate,
            low: rate,
            high,
        }
    }

    fn slos() -> Slos {
        Slos {
            latency_p95_ms: Some(2000.0),
            success_rate: Some(0.5),
            ..Slos::default()
        }
    }

    fn stored(rate: f64, high: f64) -> BaselineCapacity {
        BaselineCapacity::of(&report(found(rate, Some(high)), slos())).unwrap()
    }

    fn check(answer: CapacityAnswer, s: Option<&BaselineCapacity>) -> CheckResult {
        capacity_baseline_check(&report(answer, slos()), s, "b", 0.2, false)
    }

    #[test]
    fn a_clear_drop_beyond_the_threshold_blocks_with_both_intervals() {
        let base = stored(20.0, 21.6);
        let c = check(found(10.0, Some(10.8)), Some(&base));
        assert!(!c.passed(), "{}", c.reason);
        assert_eq!(c.name, CAPACITY_BASELINE_CHECK);
        assert!(
            c.reason.contains("dropped 50.0%")
                && c.reason.contains("between 10.000 and 10.800/s")
                && c.reason.contains("between 20.000 and 21.600/s"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn overlapping_intervals_or_a_small_change_pass_with_a_note() {
        let base = stored(20.0, 21.6);
        // 25% lower, but this search never failed below 22/s: not a clear drop.
        let c = check(found(15.0, Some(22.0)), Some(&base));
        assert!(c.passed(), "{}", c.reason);
        assert!(c.reason.contains("not a clear drop"), "{}", c.reason);
        let c = check(found(15.0, None), Some(&base));
        assert!(
            c.passed() && c.reason.contains("not a clear drop"),
            "{}",
            c.reason
        );
        // 10% lower and clearly so: within the threshold.
        let c = check(found(18.0, Some(19.4)), Some(&base));
        assert!(c.passed(), "{}", c.reason);
        assert!(c.reason.contains("-10.0%"), "{}", c.reason);
        let c = check(found(24.0, Some(26.0)), Some(&base));
        assert!(c.passed() && c.reason.contains("+20.0%"), "{}", c.reason);
    }

    #[test]
    fn other_objectives_are_refused_and_no_capacity_blocks() {
        let base = stored(20.0, 21.6);
        let other = Slos {
            latency_p95_ms: Some(1000.0),
            ..slos()
        };
        let c = capacity_baseline_check(
            &report(found(20.0, Some(21.0)), other),
            Some(&base),
            "b",
            0.2,
            false,
        );
        assert!(!c.passed());
        assert!(
            c.reason.contains("comparison refused")
                && c.reason.contains("latency_p95_ms 2000")
                && c.reason.contains("latency_p95_ms 1000"),
            "{}",
            c.reason
        );
        let c = check(
            CapacityAnswer::NoRateMeets { lowest_rate: 1.0 },
            Some(&base),
        );
        assert!(!c.passed());
        assert!(
            c.reason.contains("no capacity was shown") && c.reason.contains("20.000"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn nothing_stored_passes_unless_strict() {
        let c = check(found(20.0, Some(21.6)), None);
        assert!(c.passed(), "{}", c.reason);
        assert!(
            c.reason.contains("--capacity --update-baseline"),
            "{}",
            c.reason
        );
        let strict = capacity_baseline_check(
            &report(found(20.0, Some(21.6)), slos()),
            None,
            "b",
            0.2,
            true,
        );
        assert!(!strict.passed(), "{}", strict.reason);
        let none = check(CapacityAnswer::NotMeasured, None);
        assert!(!none.passed());
        assert_eq!(
            BaselineCapacity::of(&report(CapacityAnswer::NotMeasured, slos())),
            None
        );
    }

    #[test]
    fn service_rate_intervals_are_compared_end_to_end() {
        // Saturation-limited capacities carry a confidence interval around the rate.
        let interval = |rate: f64, low: f64, high: f64| CapacityAnswer::Found {
            rate,
            low,
            high: Some(high),
        };
        let base = BaselineCapacity::of(&report(interval(1.8, 1.5, 2.1), slos())).unwrap();
        assert_eq!(base.low(), 1.5);
        assert!(base.describe().contains("between 1.500 and 2.100/s"));
        let apart = check(interval(1.3, 1.1, 1.49), Some(&base));
        assert!(
            !apart.passed() && apart.reason.contains("dropped"),
            "{}",
            apart.reason
        );
        let overlap = check(interval(1.4, 1.2, 1.7), Some(&base));
        assert!(
            overlap.passed() && overlap.reason.contains("not a clear drop"),
            "{}",
            overlap.reason
        );
    }
}
