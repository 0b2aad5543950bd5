//! The suite's figures against bots whose true values are known.

use perf_suite::{run_suite, Config};
use tokio_util::sync::CancellationToken;

/// A JSON-lines bot (POSIX sh) that answers every query after exactly 100 ms of sleep,
/// concurrently, whatever is in flight. Its true answer time is 100 ms plus the few
/// milliseconds sh takes to fork and read the id.
const FIXED_100_MS_BOT: &str = r#"while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":"\([^"]*\)".*/\1/')
  ( sleep 0.1; printf '{"id":"%s","answer":"ok","agent":"fixed","error":null}\n' "$id" ) &
done
wait
"#;

/// The first worked example of docs/load-modes.md: 5 users, a ceiling of 1,000 starts a
/// second, 100 queries. Before the ceiling fix this reported p95 ≈ 1.5 s (the wait for a
/// free user charged to the bot); the bot's answer time is 100 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_100_ms_child_process_bot_reports_100_ms_under_a_high_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let bot = dir.path().join("bot.sh");
    std::fs::write(&bot, FIXED_100_MS_BOT).unwrap();
    let mut config = Config::small(dir.path());
    config
        .set_target_flag(&format!("cmd:sh {}", bot.display()))
        .unwrap();
    config.query_count = 100;
    config.parallel_execution.max_concurrent = 5;
    config.parallel_execution.rate_limit_per_second = Some(1_000.0);
    config.synthetic_testing.enabled = false;
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let standard = &outcome.result.per_scenario["standard"];
    assert_eq!(standard.count, 100);
    assert_eq!(standard.outcome_count("timeout"), 0);
    let ms = |p: f64| standard.latency.percentile_micros(p) as f64 / 1_000.0;
    // Never below the bot's sleep; above it only by what sh takes to fork and read the id,
    // a few milliseconds on an idle machine and more on a busy one (the bounds still tell
    // 100 ms from the 1.5 s the old schedule reported).
    assert!(
        (100.0..160.0).contains(&ms(50.0)),
        "p50 {} ms, want the bot's 100 ms",
        ms(50.0)
    );
    assert!(
        (100.0..400.0).contains(&ms(95.0)),
        "p95 {} ms, want the bot's 100 ms",
        ms(95.0)
    );
    // Latency counts from when a user was free: it exceeds the time the query was out only
    // by the harness's own start lag (the 1 ms ceiling, a busy machine's scheduling).
    let service_ms = |p: f64| standard.service.percentile_micros(p) as f64 / 1_000.0;
    for (p, slack) in [(50.0, 5.0), (95.0, 50.0)] {
        assert!(
            ms(p) - service_ms(p) < slack,
            "latency p{p} {} ms vs service p{p} {} ms: nothing waits outside the bot",
            ms(p),
            service_ms(p)
        );
    }
    assert!(
        outcome
            .result
            .notes
            .iter()
            .any(|n| n.contains("the bot, not the ceiling, limited throughput")),
        "{:?}",
        outcome.result.notes
    );
}
