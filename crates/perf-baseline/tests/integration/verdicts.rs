//! Verdicts on constructed situations: one slow agent, failures, improvements, small
//! samples, other environments, resources, overrides.

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{
    compare, AgentThresholds, Baseline, CompareOptions, EnvironmentFingerprint, Thresholds,
};
use perf_core::record::{Comparison, MetricVerdict, ResourceSample, RunResult, Verdict};
use perf_core::SplitMix64;

use super::{env, run};

fn sim(seed: u64, s: SimulatedRun) -> RunResult {
    s.draw(&format!("run-{seed}"), &mut SplitMix64::new(seed))
}

fn judge(base: &RunResult, cur: &RunResult, t: &Thresholds) -> Comparison {
    let b = Baseline::from_run("b", base, env());
    compare(&b, cur, &env(), t, &CompareOptions::default()).unwrap()
}

fn find<'a>(c: &'a Comparison, key: &str, metric: &str) -> &'a MetricVerdict {
    c.verdicts
        .iter()
        .find(|v| v.key == key && v.metric == metric)
        .unwrap_or_else(|| panic!("no verdict for {key} {metric}: {c:#?}"))
}

#[test]
fn one_slow_agent_is_caught_by_its_own_key() {
    let base = run(1, 400, 1.0);
    let cur = sim(
        2,
        SimulatedRun {
            queries: 400,
            agent_factor: Some(("digest_generation", 1.6)),
            ..SimulatedRun::default()
        },
    );
    let c = judge(&base, &cur, &Thresholds::default());
    let v = find(&c, "agent:digest_generation", "latency_median");
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert!(v.reason.starts_with("screening:"), "{}", v.reason);
    assert!(
        (v.relative_change - 0.6).abs() < 0.15,
        "{}",
        v.relative_change
    );
    assert_eq!(c.overall, Verdict::Regression);
    // The untouched agents are not regressions.
    for a in ["server_analysis", "semantic_search", "user_analysis"] {
        let v = find(&c, &format!("agent:{a}"), "latency_median");
        assert_ne!(v.verdict, Verdict::Regression, "{a}: {}", v.reason);
    }
    // A per-agent threshold of 100% makes the same change acceptable.
    let lenient = Thresholds {
        per_agent: [(
            "digest_generation".to_owned(),
            AgentThresholds {
                latency: Some(1.0),
                success_rate_drop: None,
            },
        )]
        .into(),
        ..Thresholds::default()
    };
    let c = judge(&base, &cur, &lenient);
    let v = find(&c, "agent:digest_generation", "latency_median");
    assert_ne!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert_eq!(v.threshold, 1.0);
}

#[test]
fn a_drop_in_success_rate_is_a_regression_in_points() {
    let base = run(1, 300, 1.0);
    let cur = sim(
        3,
        SimulatedRun {
            queries: 300,
            error_rate: 0.12,
            ..SimulatedRun::default()
        },
    );
    let c = judge(&base, &cur, &Thresholds::default());
    let v = find(&c, "overall", "success_rate");
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert!(v.relative_change < -0.05 && v.relative_change > -0.25);
    let (lo, hi) = v.interval.unwrap();
    assert!(lo < v.relative_change && v.relative_change < hi && hi < 0.0);
    assert!(v.p_value.unwrap() < 0.001);
    assert!(v.reason.contains("pts"), "{}", v.reason);
    assert_eq!(c.overall, Verdict::Regression);
}

#[test]
fn a_faster_bot_is_an_improvement_and_passes() {
    let c = judge(&run(1, 200, 1.0), &run(2, 200, 0.7), &Thresholds::default());
    let v = find(&c, "overall", "latency_median");
    assert_eq!(v.verdict, Verdict::Improvement, "{}", v.reason);
    assert!(v.relative_change < -0.2);
    assert_eq!(c.overall, Verdict::Pass);
}

#[test]
fn too_few_queries_say_cannot_tell() {
    let c = judge(&run(1, 16, 1.0), &run(2, 16, 1.05), &Thresholds::default());
    let v = find(&c, "overall", "latency_median");
    assert_eq!(v.verdict, Verdict::Inconclusive, "{}", v.reason);
    assert!(v.reason.contains("too few samples"), "{}", v.reason);
    assert!(v.min_detectable_change.unwrap() > 0.15);
    assert_eq!(c.overall, Verdict::Inconclusive);
    // Far too few for a tail: no figure is invented.
    let p99 = find(&c, "overall", "latency_p99");
    assert_eq!(p99.verdict, Verdict::Inconclusive);
    assert!(p99.p_value.is_none());
    // But a huge slowdown is caught even on a small sample.
    let c = judge(&run(1, 16, 1.0), &run(2, 16, 3.0), &Thresholds::default());
    assert_eq!(c.overall, Verdict::Regression);
}

#[test]
fn another_environment_is_flagged_not_refused() {
    let base = run(1, 100, 1.0);
    let mut cur = run(2, 100, 1.0);
    cur.config = serde_json::json!({"query_count": 100});
    let b = Baseline::from_run("b", &base, env());
    let other = EnvironmentFingerprint {
        cores: 16,
        cpu_model: "Other CPU".into(),
        ..env()
    };
    let c = compare(
        &b,
        &cur,
        &other,
        &Thresholds::default(),
        &CompareOptions::default(),
    )
    .unwrap();
    assert_eq!(
        c.environment_differences.len(),
        3,
        "{:?}",
        c.environment_differences
    );
    assert!(c
        .environment_differences
        .iter()
        .any(|d| d.starts_with("cores")));
    assert!(c
        .environment_differences
        .iter()
        .any(|d| d.starts_with("config")));
    assert!(!c.verdicts.is_empty());
}

fn with_memory(mut r: RunResult, mb: f64, seed: u64) -> RunResult {
    let mut rng = SplitMix64::new(seed);
    for i in 0..20 {
        let s = ResourceSample {
            elapsed_s: i as f64,
            target_memory_mb: Some(mb * (1.0 + 0.01 * rng.normal())),
            target_cpu_percent: Some((40.0 * (1.0 + 0.1 * rng.normal())) as f32),
            ..ResourceSample::default()
        };
        r.resource_peaks.observe(&s);
        r.resources.push(s);
    }
    r
}

#[test]
fn memory_growth_is_tested_on_the_readings() {
    let base = with_memory(run(1, 100, 1.0), 200.0, 1);
    let same = with_memory(run(2, 100, 1.0), 200.0, 2);
    let grown = with_memory(run(3, 100, 1.0), 300.0, 3);
    let c = judge(&base, &same, &Thresholds::default());
    assert_eq!(find(&c, "overall", "max_memory").verdict, Verdict::Pass);
    assert_eq!(find(&c, "overall", "max_cpu").verdict, Verdict::Pass);
    let c = judge(&base, &grown, &Thresholds::default());
    let v = find(&c, "overall", "max_memory");
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert!((v.relative_change - 0.5).abs() < 0.1);
    assert_eq!(v.threshold, 0.2);
    // A run without resource monitoring has nothing to compare.
    let c = judge(&base, &run(4, 100, 1.0), &Thresholds::default());
    assert!(c.verdicts.iter().all(|v| v.metric != "max_memory"));
}

#[test]
fn every_reason_is_one_line_and_every_number_finite() {
    let c = judge(&run(1, 120, 1.0), &run(2, 120, 1.2), &Thresholds::default());
    for v in &c.verdicts {
        assert!(!v.reason.is_empty() && !v.reason.contains('\n'), "{v:?}");
        assert!(v.relative_change.is_finite(), "{v:?}");
        if let Some((lo, hi)) = v.interval {
            assert!(lo.is_finite() && hi.is_finite() && lo <= hi, "{v:?}");
        }
        if let Some(p) = v.p_value {
            assert!((0.0..=1.0).contains(&p), "{v:?}");
        }
    }
    // The result serializes (it goes into report.json).
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains("latency_median"));
}

#[test]
fn empty_and_degenerate_runs_are_inconclusive_not_a_panic() {
    let base = run(1, 100, 1.0);
    let empty = RunResult::new("empty", "", perf_core::TargetInfo::default());
    let c = judge(&base, &empty, &Thresholds::default());
    assert_eq!(c.overall, Verdict::Inconclusive);
    assert!(find(&c, "overall", "latency_median")
        .reason
        .contains("cannot tell"));
    // And the other way round: an empty baseline.
    let b = Baseline::from_run("b", &empty, env());
    let c = compare(
        &b,
        &base,
        &env(),
        &Thresholds::default(),
        &CompareOptions::default(),
    )
    .unwrap();
    assert_eq!(c.overall, Verdict::Inconclusive);
    // Every query at exactly the same latency (all ties).
    let mut flat = RunResult::new("flat", "", perf_core::TargetInfo::default());
    let mut flat2 = flat.clone();
    for (r, us) in [(&mut flat, 50_000u64), (&mut flat2, 50_000u64)] {
        for i in 0..100 {
            r.record(&perf_core::Sample {
                agent: Some(["x", "y"][i % 2].into()),
                ..perf_core::Sample::new(format!("q{i}"), "s", "c", perf_core::Outcome::Ok, us)
            });
        }
    }
    let c = judge(&flat, &flat2, &Thresholds::default());
    let v = find(&c, "overall", "latency_median");
    assert_eq!(v.verdict, Verdict::Pass, "{}", v.reason);
    assert!(v.relative_change.abs() < 1e-9);
}

fn is_streaming_metric(metric: &str) -> bool {
    ["ttft_", "itl_", "tpot_"]
        .iter()
        .any(|p| metric.starts_with(p))
}

#[test]
fn a_fifty_percent_slower_time_to_first_token_is_a_regression() {
    let base = super::streaming_run(21, 400, 200.0);
    let slower = super::streaming_run(22, 400, 300.0);
    let c = judge(&base, &slower, &Thresholds::default());
    let v = find(&c, "overall", "ttft_median");
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert!(!v.reason.starts_with("screening:"), "primary: {}", v.reason);
    assert!(
        (v.relative_change - 0.5).abs() < 0.1,
        "{}",
        v.relative_change
    );
    assert!((v.baseline - 200.0).abs() < 20.0 && (v.current - 300.0).abs() < 30.0);
    assert_eq!(find(&c, "overall", "ttft_p95").verdict, Verdict::Regression);
    assert_eq!(c.overall, Verdict::Regression);
    // Only the time to first token changed: latency and the decode figures did not.
    for metric in ["latency_median", "itl_median", "tpot_median"] {
        let v = find(&c, "overall", metric);
        assert_ne!(v.verdict, Verdict::Regression, "{metric}: {}", v.reason);
    }
    // Every agent's key sees it too.
    let v = find(&c, "agent:digest_generation", "ttft_median");
    assert_eq!(v.verdict, Verdict::Regression, "{}", v.reason);

    let same = super::streaming_run(23, 400, 200.0);
    let c = judge(&base, &same, &Thresholds::default());
    let streaming: Vec<_> = c
        .verdicts
        .iter()
        .filter(|v| is_streaming_metric(&v.metric))
        .collect();
    assert_eq!(
        streaming.len(),
        8 + 4,
        "8 overall and one per agent: {streaming:#?}"
    );
    for v in streaming {
        assert_ne!(
            v.verdict,
            Verdict::Regression,
            "{} {}: {}",
            v.key,
            v.metric,
            v.reason
        );
    }
    assert_ne!(c.overall, Verdict::Regression);
}

#[test]
fn streaming_verdicts_need_a_streamed_baseline_and_say_when_the_run_stopped_streaming() {
    let streamed = super::streaming_run(31, 200, 200.0);
    let plain = run(32, 200, 1.0);
    // Neither streamed: the verdicts are exactly the ones made before streaming existed.
    let c = judge(&plain, &run(33, 200, 1.0), &Thresholds::default());
    assert!(!c.verdicts.iter().any(|v| is_streaming_metric(&v.metric)));
    // A baseline without streaming has nothing to compare this run's TTFT with.
    let c = judge(&plain, &streamed, &Thresholds::default());
    assert!(!c.verdicts.iter().any(|v| is_streaming_metric(&v.metric)));
    // The baseline streamed and this run did not: cannot tell, never a pass on 0.
    let c = judge(&streamed, &plain, &Thresholds::default());
    let v = find(&c, "overall", "ttft_median");
    assert_eq!(v.verdict, Verdict::Inconclusive, "{}", v.reason);
    assert!(v.reason.contains("measured none"), "{}", v.reason);
    assert_eq!(c.overall, Verdict::Inconclusive);
}

#[test]
fn ttft_thresholds_can_be_set_on_their_own() {
    let base = super::streaming_run(41, 400, 200.0);
    let slower = super::streaming_run(42, 400, 300.0);
    let lenient = Thresholds {
        latency_metrics: [("ttft_median".to_owned(), 1.0)].into(),
        ..Thresholds::default()
    };
    let c = judge(&base, &slower, &lenient);
    let v = find(&c, "overall", "ttft_median");
    assert_eq!(v.threshold, 1.0);
    assert_ne!(v.verdict, Verdict::Regression, "{}", v.reason);
    assert_eq!(find(&c, "overall", "ttft_p95").threshold, 0.15);
}

/// A bot whose answer times barely vary (each agent always the same time, as an LLM
/// server with fixed prefill): every answer of the slower run is slower than every answer
/// of the baseline, so the rank statistic saturates. A 48% slowdown is still a regression,
/// and a 1% one still passes.
#[test]
fn a_shift_between_runs_without_overlap_is_judged_against_the_noise() {
    fn steady(id: &str, factor: f64) -> RunResult {
        let mut r = RunResult::new(id, "2026-01-01T00:00:00Z", perf_core::TargetInfo::default());
        for (i, (agent, ms)) in [("a", 40.0), ("b", 60.0), ("c", 100.0)]
            .iter()
            .cycle()
            .take(180)
            .enumerate()
        {
            // A millisecond of jitter, as a loopback connection adds.
            let us = (ms * factor * 1_000.0) as u64 + (i as u64 * 379) % 1_000;
            r.record(&perf_core::Sample {
                agent: Some((*agent).to_owned()),
                ..perf_core::Sample::new(format!("q{i}"), "s", *agent, perf_core::Outcome::Ok, us)
            });
        }
        r.wall_time_s = 10.0;
        r
    }
    let base = steady("base", 1.0);
    let slower = judge(&base, &steady("slow", 1.48), &Thresholds::default());
    let v = find(&slower, "overall", "latency_median");
    assert_eq!(v.verdict, Verdict::Regression, "{v:?}");
    let same = judge(&base, &steady("same", 1.01), &Thresholds::default());
    let v = find(&same, "overall", "latency_median");
    assert_ne!(v.verdict, Verdict::Regression, "{v:?}");
}
