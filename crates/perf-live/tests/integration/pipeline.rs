//! A whole suite run watched live: `/metrics` read right after the run counts what the
//! run's result counts.

use std::time::Duration;

use perf_live::{LiveFinal, LiveOptions, LiveServer, Verdict};
use perf_suite::{run_suite, Config};
use tokio_util::sync::CancellationToken;

use crate::support::{get, parse_metrics};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_a_suite_run_count_what_the_result_counts() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::small(dir.path());
    let options = LiveOptions {
        interval: Duration::from_millis(100),
        ..LiveOptions::default()
    };
    let (live, events) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    let outcome = run_suite(&config, Some(events), CancellationToken::new())
        .await
        .unwrap();
    live.finish(LiveFinal {
        verdict: Verdict::Pass,
        reasons: Vec::new(),
        reports: Some(outcome.run_dir().to_owned()),
        discord: outcome.result.discord.clone(),
    });
    // The finish publishes at once, after folding every event sent before it.
    let mut rx = live.subscribe();
    tokio::time::timeout(Duration::from_secs(10), async {
        while rx.borrow_and_update().snapshot.finished.is_none() {
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap();

    let (_, _, text) = get(live.local_addr(), "/metrics").await;
    let lines = parse_metrics(&text);
    let result = &outcome.result;
    let total: f64 = lines
        .iter()
        .filter(|l| l.name == "chatbot_perf_queries_total")
        .map(|l| l.value)
        .sum();
    assert_eq!(total as u64, result.overall.count);
    let ok: f64 = lines
        .iter()
        .filter(|l| l.name == "chatbot_perf_queries_total" && l.label("outcome") == Some("ok"))
        .map(|l| l.value)
        .sum();
    assert_eq!(ok as u64, result.overall.successes);
    for (scenario, stats) in &result.per_scenario {
        let n: f64 = lines
            .iter()
            .filter(|l| {
                l.name == "chatbot_perf_queries_total" && l.label("scenario") == Some(scenario)
            })
            .map(|l| l.value)
            .sum();
        assert_eq!(n as u64, stats.count, "{scenario}");
    }
    let info = lines
        .iter()
        .find(|l| l.name == "chatbot_perf_run_info")
        .unwrap();
    assert_eq!(info.label("run_id"), Some(result.run_id.as_str()));
    assert_eq!(info.label("phase"), Some("finished"));
    // Resource readings reached the gauges.
    assert!(lines
        .iter()
        .any(|l| l.name == "chatbot_perf_memory_bytes" && l.label("process") == Some("harness")));
    // Every check of the result is a gauge: passed or failed, or not measured.
    let checks = lines
        .iter()
        .filter(|l| {
            l.name == "chatbot_perf_check_passed" || l.name == "chatbot_perf_check_not_measured"
        })
        .count();
    let distinct: std::collections::BTreeSet<_> =
        result.checks.iter().map(|c| (&c.group, &c.name)).collect();
    assert_eq!(checks, distinct.len());

    let snap = &live.snapshot().snapshot;
    assert_eq!(snap.done, result.overall.count);
    assert_eq!(
        snap.finished.as_ref().and_then(|f| f.reports.as_deref()),
        Some(outcome.run_dir())
    );
    live.shutdown().await;
}
