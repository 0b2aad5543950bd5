//! The whole suite against the LLM-like reference bot as a user runs it: over
//! OpenAI-compatible SSE and over streamed JSON lines. Time to first token and tokens per
//! second reach every report and the baseline, and a bot whose first token comes 50% later
//! is a regression verdict that fails the gate.

use perf_suite::{gate_checks, run_suite, save_baseline, Config, GateOptions};
use tokio_util::sync::CancellationToken;

use crate::fixture;
use crate::llm::start_server;

/// The bot's LLM mode, short: medians from the defaults at `time_scale`, no spread (each
/// agent's first token always comes at its median), 30-token answers.
fn bot_config(dir: &std::path::Path, time_scale: f64) -> std::path::PathBuf {
    let path = dir.join(format!("refbot-{time_scale}.json"));
    let agent = |ttft: f64| serde_json::json!({"ttft": ttft, "token_gap": 0.02, "tokens": 30});
    let config = serde_json::json!({
        "seed": 42,
        "llm": {
            "slots": 4,
            "time_scale": time_scale,
            "sigma": 0.0,
            "agents": {
                "server_analysis": agent(0.8),
                "semantic_search": agent(1.2),
                "user_analysis": agent(1.0),
                "digest_generation": agent(2.0),
            }
        }
    });
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// The suite's configuration: standard queries and the edge cases (what the gate runs).
fn suite_config(dir: &std::path::Path, db: &std::path::Path, target: &str) -> Config {
    let mut c = Config {
        database_path: db.to_owned(),
        output_dir: dir.join("reports"),
        history_path: dir.join("history.db"),
        ..Config::default()
    };
    c.performance_baselines.baselines_dir = dir.join("baselines");
    c.performance_baselines.baseline_name = "llm".to_owned();
    c.query_count = 40;
    c.parallel_execution.max_concurrent = 4;
    c.parallel_execution.rate_limit_per_second = None;
    c.resource_monitoring.monitoring_interval = 0.2;
    c.synthetic_testing.stress_scenarios = false;
    c.synthetic_testing.load_testing = false;
    c.set_target_flag(target).unwrap();
    // The bot gets a new port each start: a stable name keeps it the same target for its
    // baseline (a baseline of another target is refused).
    if let perf_targets::TargetSpec::Http(h) = &mut c.target {
        h.name = Some("llm-refbot".to_owned());
    }
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streaming_figures_reach_every_report_and_a_slower_first_token_fails_the_gate() {
    let db = fixture(1_500).await;
    let dir = tempfile::tempdir().unwrap();
    let url = |base: &str| format!("openai+{base}/v1/chat/completions");

    // The baseline: first tokens at 0.05 × the default medians (40–100 ms).
    let normal = bot_config(dir.path(), 0.05);
    let (mut server, base) = start_server(&db.path, &["--config", normal.to_str().unwrap()]).await;
    let config = suite_config(dir.path(), &db.path, &url(&base));
    let first = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    server.kill().await.unwrap();
    let standard = &first.result.per_scenario["standard"];
    assert_eq!(
        standard.ttft.count(),
        standard.count,
        "every answer streamed"
    );
    let ttft_p50_ms = standard.ttft.percentile_micros(50.0) as f64 / 1_000.0;
    assert!(
        (40.0..400.0).contains(&ttft_p50_ms),
        "TTFT p50 {ttft_p50_ms} ms: at least the bot's 40–100 ms"
    );
    assert!(
        standard.output_tokens >= standard.count,
        "token counts reported"
    );

    let json = std::fs::read_to_string(first.result_file()).unwrap();
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    // The TTFT histogram, in report.json's form (base64 of the HdrHistogram V2 encoding).
    assert!(
        report["per_scenario"]["standard"]["ttft"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "report.json: {}",
        report["per_scenario"]["standard"]["ttft"]
    );
    let md = std::fs::read_to_string(&first.reports.markdown).unwrap();
    assert!(md.contains("### Streaming"), "summary.md: {md}");
    let html = std::fs::read_to_string(&first.reports.html).unwrap();
    assert!(html.contains("p95 time to first token"), "report.html");
    assert!(html.contains("tok/s"), "report.html");
    let saved = save_baseline(&config, "llm", &first.result, true).unwrap();
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved).unwrap()).unwrap();
    assert!(
        baseline.to_string().contains("\"ttft\""),
        "the baseline keeps TTFT"
    );

    // The same bot with every time 50% longer: its first tokens come 50% later.
    let slower = bot_config(dir.path(), 0.075);
    let (mut server, base) = start_server(&db.path, &["--config", slower.to_str().unwrap()]).await;
    let config = suite_config(dir.path(), &db.path, &url(&base));
    let second = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    server.kill().await.unwrap();
    let comparison = second
        .result
        .comparison
        .as_ref()
        .expect("compared with `llm`");
    let ttft = comparison
        .verdicts
        .iter()
        .find(|v| v.metric == "ttft_median" && v.key == "overall")
        .expect("a TTFT verdict");
    assert_eq!(
        ttft.verdict,
        perf_core::record::Verdict::Regression,
        "{ttft:?}"
    );
    let gate = gate_checks(&second.result, &GateOptions::default());
    let baseline_check = gate
        .iter()
        .find(|c| c.name == "baseline_validation")
        .unwrap();
    assert!(!baseline_check.passed(), "{baseline_check:?}");
    assert!(baseline_check.reason.contains("ttft"), "{baseline_check:?}");
    // Everything else about the bot is fine: the gate fails on TTFT alone.
    for c in gate.iter().filter(|c| c.name != "baseline_validation") {
        assert!(!c.failed(), "{c:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_streaming_figures_reach_the_result() {
    let db = fixture(1_500).await;
    let dir = tempfile::tempdir().unwrap();
    let bot = bot_config(dir.path(), 0.05);
    let target = format!(
        "cmd:{} stdio --database {} --config {}",
        env!("CARGO_BIN_EXE_refbot"),
        db.path.display(),
        bot.display()
    );
    let mut config = suite_config(dir.path(), &db.path, &target);
    config.synthetic_testing.enabled = false;
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let standard = &outcome.result.per_scenario["standard"];
    assert_eq!(
        standard.successes, standard.count,
        "{:?}",
        outcome.result.failure_examples
    );
    assert_eq!(
        standard.ttft.count(),
        standard.count,
        "every answer streamed"
    );
    assert!(
        standard.ttft.min_micros() >= 40_000,
        "no first token before the bot's 40 ms"
    );
    assert!(!standard.itl.is_empty() && !standard.tpot.is_empty());
    let summary = standard.summary(outcome.result.wall_time_s);
    assert!(summary.output_tokens_per_s.is_some_and(|t| t > 0.0));
}
