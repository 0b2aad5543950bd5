//! Hand-made run results: fixed samples, readings, checks and verdicts.

use perf_core::record::{
    CheckResult, Comparison, MetricVerdict, PhaseTiming, ResourceSample, RunResult, TrendSeries,
    Verdict,
};
use perf_core::{ErrorKind, ExpectationFailure, Outcome, Sample, SplitMix64, TargetInfo};

/// Payloads that would change the page if they ran: the browser test looks for the
/// title `PWNED` and the attribute `data-pwned="1"`.
pub(crate) const PAYLOADS: &[&str] = &[
    r#"<img src=x onerror="document.title='PWNED'">"#,
    r#"<script>document.body.setAttribute('data-pwned','1')</script>"#,
    r#"</style><script>document.title='PWNED'</script>"#,
    r#""><svg onload="document.title='PWNED'">"#,
    r#"]]></failure><x y="z">&amp;</x>"#,
    "nul\0byte \u{1b}[31mred\u{1b}[0m",
    "\u{202E}gnp.exe\u{2066}iso\u{2069}",
    "`code` | pipe @everyone [link](javascript:alert(1)) *b* _i_\nnext line",
];

const AGENTS: [&str; 4] = [
    "server_analysis",
    "semantic_search",
    "user_analysis",
    "digest_generation",
];

fn sample(i: u64, rng: &mut SplitMix64) -> Sample {
    let agent = AGENTS[(i % 4) as usize];
    let latency_us = 20_000 + (rng.next_u64() % 180_000) + (i % 10) * 1_000;
    let (category, outcome) = match i % 20 {
        7 => (agent.to_owned(), Outcome::Timeout),
        13 => (agent.to_owned(), Outcome::Error(ErrorKind::Status)),
        17 => ("edge:xss".to_owned(), Outcome::FailedExpectation),
        19 => ("edge:null_bytes".to_owned(), Outcome::Ok),
        _ => (agent.to_owned(), Outcome::Ok),
    };
    let failed = outcome == Outcome::FailedExpectation;
    Sample {
        query_id: format!("q{i:04}"),
        scenario: if category.starts_with("edge:") {
            "edge_cases".to_owned()
        } else {
            "standard".to_owned()
        },
        category,
        expected_agent: Some(agent.to_owned()),
        agent: matches!(outcome, Outcome::Ok | Outcome::FailedExpectation)
            .then(|| agent.to_owned()),
        outcome,
        first_attempt: None,
        attempts: 1,
        scheduled_at_us: i * 100_000,
        start_lag_us: i % 3 * 1_000,
        latency_us,
        service_us: latency_us - 500,
        ttft_us: None,
        itl_us: None,
        tpot_us: None,
        output_tokens: None,
        error: match outcome {
            Outcome::Timeout => Some("no answer within 30 s".to_owned()),
            Outcome::Error(_) => Some("HTTP 502 from <gateway> | retry".to_owned()),
            _ => None,
        },
        failed_expectations: if failed {
            vec![ExpectationFailure {
                expectation: "no_unescaped_echo".to_owned(),
                detail: "answer repeats <script>alert(1)</script>".to_owned(),
            }]
        } else {
            Vec::new()
        },
        answer_excerpt: failed.then(|| "Sure: <script>alert(1)</script>".to_owned()),
    }
}

/// A deterministic run of 200 samples over 20 s with checks, a comparison and trends.
pub(crate) fn run() -> RunResult {
    let mut r = RunResult::new(
        "20260101-000000-abcd",
        "2026-01-01T00:00:00Z",
        TargetInfo {
            name: "refbot".to_owned(),
            version: Some("0.1.0".to_owned()),
            transport: perf_core::Transport::Http,
        },
    );
    let mut rng = SplitMix64::new(7);
    for i in 0..200 {
        r.record(&sample(i, &mut rng));
    }
    r.wall_time_s = 20.0;
    for s in 0..20 {
        let reading = ResourceSample {
            elapsed_s: f64::from(s),
            system_cpu_percent: 30.0 + s as f32,
            system_memory_mb: 4000.0 + f64::from(s) * 2.0,
            disk_read_mb_s: 0.5,
            disk_write_mb_s: f64::from(s % 3),
            net_sent_mb_s: 0.1,
            net_recv_mb_s: 0.2,
            target_cpu_percent: Some(50.0 + s as f32),
            target_memory_mb: Some(120.0 + f64::from(s)),
            harness_cpu_percent: 10.0,
            harness_memory_mb: 30.0,
        };
        r.resource_peaks.observe(&reading);
        r.resources.push(reading);
    }
    r.phases = vec![
        PhaseTiming {
            number: 1,
            name: "content analysis".to_owned(),
            seconds: 0.5,
            status: perf_core::record::PhaseStatus::Completed,
            detail: String::new(),
        },
        PhaseTiming {
            number: 4,
            name: "query execution".to_owned(),
            seconds: 20.0,
            status: perf_core::record::PhaseStatus::Completed,
            detail: "200 queries".to_owned(),
        },
    ];
    for a in AGENTS {
        r.checks.push(CheckResult {
            group: perf_core::record::CheckGroup::CriticalPath,
            name: a.to_owned(),
            status: perf_core::record::CheckStatus::from_passed(a != "digest_generation"),
            reason: if a == "digest_generation" {
                "success rate 80.0% below 90.0%".to_owned()
            } else {
                "success rate and p95 within limits".to_owned()
            },
        });
    }
    r.checks.push(CheckResult {
        group: perf_core::record::CheckGroup::Gate,
        name: "max_memory".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(true),
        reason: "139 MiB ≤ 512 MiB".to_owned(),
    });
    r.checks.push(CheckResult {
        group: perf_core::record::CheckGroup::Robustness,
        name: "xss".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(false),
        reason: "10 answers echo the payload".to_owned(),
    });
    let v = |metric: &str, b: f64, c: f64, verdict: Verdict| MetricVerdict {
        key: "overall".to_owned(),
        metric: metric.to_owned(),
        baseline: b,
        current: c,
        relative_change: (c - b) / b,
        interval: Some(((c - b) / b - 0.05, (c - b) / b + 0.05)),
        p_value: Some(0.01),
        min_detectable_change: Some(0.04),
        threshold: 0.15,
        verdict,
        reason: String::new(),
        primary: true,
    };
    r.comparison = Some(Comparison {
        baseline: "production_baseline".to_owned(),
        baseline_created_at: "2025-12-01T00:00:00Z".to_owned(),
        environment_differences: vec!["cpu count 4 → 2".to_owned()],
        verdicts: vec![
            v("latency_p95", 150.0, 190.0, Verdict::Regression),
            v("latency_mean", 100.0, 110.0, Verdict::Inconclusive),
            v("latency_p99", 200.0, 150.0, Verdict::Improvement),
            v("max_memory", 130.0, 139.0, Verdict::Pass),
        ],
        overall: Verdict::Regression,
    });
    r.trends = vec![TrendSeries {
        metric: "latency_p95".to_owned(),
        points: (0..6)
            .map(|i| {
                (
                    format!("run{i}"),
                    format!("2025-12-0{}T00:00:00Z", i + 1),
                    if i < 3 { 150.0 } else { 190.0 },
                )
            })
            .collect(),
        change_point: Some(3),
        slope_per_run: 9.1,
    }];
    r.notes = vec!["reduced scale: 200 queries instead of 1,000".to_owned()];
    r.config =
        serde_json::json!({ "query_count": 200, "parallel_execution": { "max_concurrent": 5 } });
    r
}

/// [`run`] with hostile payloads in every text field a bot, a query or a user controls.
pub(crate) fn hostile_run() -> RunResult {
    let mut r = run();
    let p = |i: usize| PAYLOADS[i % PAYLOADS.len()].to_owned();
    for (i, s) in r.failure_examples.iter_mut().enumerate() {
        s.query_id = format!("q{i} {}", p(i));
        s.error = Some(p(i + 1));
        s.answer_excerpt = Some(p(i + 2));
        s.failed_expectations.push(ExpectationFailure {
            expectation: "no_unescaped_echo".to_owned(),
            detail: p(i + 3),
        });
    }
    // Hostile group names (agents and categories come from the bot and the scenarios).
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let mut g = r.overall.clone();
        g.outcomes.insert(format!("error:{payload}"), 1);
        r.per_agent.insert(format!("agent {payload}"), g.clone());
        r.per_category.insert(format!("edge:{payload}"), g);
        r.overall
            .agent_usage
            .insert(format!("bot-named {payload}"), i as u64 + 1);
        r.checks.push(CheckResult {
            group: perf_core::record::CheckGroup::Robustness,
            name: (*payload).to_owned(),
            status: perf_core::record::CheckStatus::from_passed(false),
            reason: (*payload).to_owned(),
        });
        r.notes.push((*payload).to_owned());
    }
    r.target.name = p(0);
    if let Some(c) = &mut r.comparison {
        c.baseline = p(1);
        c.environment_differences.push(p(2));
        c.verdicts[0].key = p(3);
        c.verdicts[0].reason = p(4);
    }
    r.trends[0].metric = p(1);
    r.trends[0].points[3].0 = p(0);
    r.phases[0].detail = p(2);
    r.config = serde_json::json!({ "payloads": PAYLOADS });
    r
}

/// The agent of [`streaming_run`] whose answers are not streamed.
pub(crate) const PLAIN_AGENT: &str = "server_analysis";

/// A run of 120 answered queries over 10 s: `semantic_search` and an agent named after a
/// hostile payload stream (time to first token 200 ms, 20 ms between pieces, 15 ms per
/// token, 100 tokens), [`PLAIN_AGENT`] does not.
pub(crate) fn streaming_run() -> RunResult {
    let mut r = RunResult::new(
        "20260101-000000-stream",
        "2026-01-01T00:00:00Z",
        TargetInfo {
            name: "streambot".to_owned(),
            version: None,
            transport: perf_core::Transport::Http,
        },
    );
    let agents = ["semantic_search", PAYLOADS[1], PLAIN_AGENT];
    for i in 0..120u64 {
        let agent = agents[(i % 3) as usize];
        let base = Sample {
            agent: Some(agent.to_owned()),
            expected_agent: Some(agent.to_owned()),
            scheduled_at_us: i * 80_000,
            ..Sample::new(
                format!("s{i:03}"),
                "standard",
                agent,
                Outcome::Ok,
                1_700_000 + i * 100,
            )
        };
        let s = if agent == PLAIN_AGENT {
            base
        } else {
            Sample {
                ttft_us: Some(200_000),
                itl_us: Some(20_000),
                tpot_us: Some(15_000),
                output_tokens: Some(100),
                ..base
            }
        };
        r.record(&s);
    }
    r.wall_time_s = 10.0;
    r
}
