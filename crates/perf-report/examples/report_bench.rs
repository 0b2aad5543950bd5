//! Benchmark: report generation for a run of many samples.
//!
//! ```text
//! cargo run --release -p perf-report --example report_bench -- [SAMPLES] [REPORTS_DIR] [GROUPS]
//! ```
//!
//! Records SAMPLES (default 1,000,000) synthetic samples into a `RunResult` (not timed:
//! that is the runner's cost), then times every renderer and `write_run_reports` into
//! REPORTS_DIR (default: a temporary directory; `-` for one). GROUPS (default 0) adds that
//! many extra categories, scenarios and critical-path checks, to show that report time
//! grows linearly with the number of groups. The result is already aggregated, so
//! report time depends on the number of groups, buckets and readings, not on SAMPLES.

use std::time::Instant;

use perf_core::record::{
    CheckResult, Comparison, MetricVerdict, ResourceSample, RunResult, TrendSeries, Verdict,
};
use perf_core::{ErrorKind, Outcome, Sample, SplitMix64, TargetInfo};

const AGENTS: [&str; 4] = [
    "server_analysis",
    "semantic_search",
    "user_analysis",
    "digest_generation",
];
const EDGE: [&str; 5] = ["xss", "null_bytes", "long_query", "unicode", "empty"];

fn build(n: u64, extra_groups: u64) -> RunResult {
    let mut r = RunResult::new("bench-run", "2026-01-01T00:00:00Z", TargetInfo::default());
    let mut rng = SplitMix64::new(42);
    let duration_us = 600_000_000u64;
    for i in 0..n {
        let agent = AGENTS[(i % 4) as usize];
        let edge = (i % 50 == 0).then(|| EDGE[((i / 50) % 5) as usize]);
        let latency_us = (1000.0 * (rng.normal() * 0.6 + 4.5).exp()) as u64 + 1;
        let roll = rng.next_f64();
        let outcome = if roll < 0.01 {
            Outcome::Timeout
        } else if roll < 0.02 {
            Outcome::Error(ErrorKind::Status)
        } else if roll < 0.03 {
            Outcome::FailedExpectation
        } else {
            Outcome::Ok
        };
        let scenario = if extra_groups > 0 {
            format!("scenario{}", i % extra_groups)
        } else {
            ["standard", "load_ramp", "edge_cases"][(i % 3) as usize].to_owned()
        };
        let category = match (edge, extra_groups) {
            (Some(e), _) => format!("edge:{e}"),
            (None, 0) => agent.to_owned(),
            (None, g) => format!("category{}", i % g),
        };
        let s = Sample {
            expected_agent: Some(agent.to_owned()),
            agent: outcome.is_success().then(|| agent.to_owned()),
            scheduled_at_us: i * duration_us / n.max(1),
            start_lag_us: rng.below(3000),
            service_us: latency_us.saturating_sub(200),
            error: (!outcome.is_success()).then(|| "bot said <no>".to_owned()),
            ..Sample::new(format!("q{i}"), scenario, category, outcome, latency_us)
        };
        r.record(&s);
    }
    r.wall_time_s = 600.0;
    for s in 0..600 {
        let reading = ResourceSample {
            elapsed_s: f64::from(s),
            system_cpu_percent: 40.0 + (s % 20) as f32,
            system_memory_mb: 6000.0,
            target_cpu_percent: Some(80.0),
            target_memory_mb: Some(300.0 + f64::from(s) * 0.1),
            harness_cpu_percent: 20.0,
            harness_memory_mb: 40.0,
            ..ResourceSample::default()
        };
        r.resource_peaks.observe(&reading);
        r.resources.push(reading);
    }
    for (group, a) in AGENTS
        .iter()
        .map(|a| (perf_core::record::CheckGroup::CriticalPath, a))
        .chain(
            EDGE.iter()
                .map(|e| (perf_core::record::CheckGroup::Robustness, e)),
        )
    {
        r.checks.push(CheckResult {
            group,
            name: (*a).to_owned(),
            status: perf_core::record::CheckStatus::from_passed(true),
            reason: "within limits".to_owned(),
        });
    }
    for g in 0..extra_groups {
        r.checks.push(CheckResult {
            group: perf_core::record::CheckGroup::CriticalPath,
            name: format!("category{g}"),
            status: perf_core::record::CheckStatus::from_passed(g % 10 != 0),
            reason: "synthetic".to_owned(),
        });
    }
    let verdicts = AGENTS
        .iter()
        .flat_map(|a| {
            ["latency_mean", "latency_p95", "latency_p99", "success_rate"].map(|m| MetricVerdict {
                key: format!("agent:{a}"),
                metric: m.to_owned(),
                baseline: 100.0,
                current: 104.0,
                relative_change: 0.04,
                interval: Some((0.01, 0.07)),
                p_value: Some(0.02),
                min_detectable_change: Some(0.03),
                threshold: 0.15,
                verdict: Verdict::Pass,
                reason: String::new(),
                primary: true,
            })
        })
        .collect();
    r.comparison = Some(Comparison {
        baseline: "production_baseline".to_owned(),
        baseline_created_at: String::new(),
        environment_differences: Vec::new(),
        verdicts,
        overall: Verdict::Pass,
    });
    r.trends = ["latency_mean", "latency_p95", "success_rate"]
        .iter()
        .map(|m| TrendSeries {
            metric: (*m).to_owned(),
            points: (0..50)
                .map(|i| (format!("run{i}"), String::new(), 100.0 + f64::from(i % 7)))
                .collect(),
            change_point: None,
            slope_per_run: 0.1,
        })
        .collect();
    r
}

fn time<T>(label: &str, f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    println!("{label:<28} {ms:>9.1} ms");
    (out, ms)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir()?;
    let root = args
        .next()
        .filter(|a| a != "-")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_owned());
    let groups: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);

    let (r, _) = time(&format!("record {n} samples"), || build(n, groups));
    println!(
        "groups: {} agents, {} categories, {} scenarios, {} checks; {} timeline buckets; {} readings",
        r.per_agent.len(),
        r.per_category.len(),
        r.per_scenario.len(),
        r.checks.len(),
        r.timeline.buckets.len(),
        r.resources.len()
    );
    let (json, _) = time("render_json", || perf_report::render_json(&r));
    let (html, _) = time("render_html", || perf_report::render_html(&r));
    let (md, _) = time("render_markdown", || perf_report::render_markdown(&r));
    let (xml, _) = time("render_junit", || perf_report::render_junit(&r));
    time("render_terminal", || {
        perf_report::render_terminal(&r, false)
    });
    time("render_resources_csv", || {
        perf_report::render_resources_csv(&r)
    });
    let (paths, total) = time("write_run_reports (all)", || {
        perf_report::write_run_reports(&r, &root)
    });
    let paths = paths?;
    println!(
        "sizes: report.json {} KiB, report.html {} KiB, summary.md {} KiB, junit.xml {} KiB",
        json?.len() / 1024,
        html.len() / 1024,
        md.len() / 1024,
        xml.len() / 1024
    );
    println!("wrote {}", paths.dir.display());
    println!(
        "write_run_reports: {total:.1} ms ({})",
        if total < 2000.0 {
            "under 2 s"
        } else {
            "OVER 2 s"
        }
    );
    Ok(())
}
