//! The run history in a real SQLite file.

use perf_baseline::{BaselineError, History, TrendOptions};

use super::run;

fn at(mut r: perf_core::RunResult, i: usize, factor_note: &str) -> perf_core::RunResult {
    r.run_id = format!("run-{i:02}{factor_note}");
    r.started_at = format!("2026-01-{:02}T10:00:00Z", i + 1);
    r
}

#[tokio::test]
async fn migrations_apply_on_a_fresh_file_and_reopen_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("history.db");
    let h = History::open(&path).await.unwrap();
    assert!(path.is_file());
    assert_eq!(h.schema_version().await.unwrap(), 1);
    assert!(h.list_runs(10).await.unwrap().is_empty());
    h.close().await;
    let h = History::open(&path).await.unwrap();
    assert_eq!(h.schema_version().await.unwrap(), 1);
    h.close().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let h = History::open(&path).await.unwrap();
    h.close().await;
    {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .connect()
            .await
            .unwrap();
        sqlx::query("INSERT INTO schema_migrations VALUES (42, 'future', 'x')")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let err = History::open(&path).await.unwrap_err();
    assert!(matches!(err, BaselineError::History { .. }));
    let msg = err.to_string();
    assert!(msg.contains("history.db") && msg.contains("42"), "{msg}");
}

#[tokio::test]
async fn records_round_trip_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(dir.path().join("history.db")).await.unwrap();
    for i in 0..5 {
        h.record(&at(run(i as u64, 80, 1.0), i, "")).await.unwrap();
    }
    // Recording the same run again replaces it.
    h.record(&at(run(9, 40, 1.0), 2, "")).await.unwrap();
    let runs = h.list_runs(3).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["run-04", "run-03", "run-02"]
    );
    assert_eq!(runs[2].queries, 40);
    assert_eq!(runs[0].queries, 80);
    assert_eq!(runs[0].success_rate, 1.0);
    assert!(runs[0].latency_p95_ms > runs[0].latency_p50_ms);
    assert!(runs[0].verdict.is_none());
    assert_eq!(h.list_runs(100).await.unwrap().len(), 5);
    let series = h
        .series("agent:digest_generation", "count", 10)
        .await
        .unwrap();
    assert_eq!(series.len(), 5);
    assert_eq!(series[0].0, "run-00");
    assert_eq!(series[2].2, 10.0);
    assert_eq!(series[4].2, 20.0);
    h.close().await;
}

#[tokio::test]
async fn trends_find_a_lasting_slowdown_and_not_noise() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(dir.path().join("history.db")).await.unwrap();
    for i in 0..16 {
        // 30% slower from the 11th run on.
        let factor = if i >= 10 { 1.3 } else { 1.0 };
        h.record(&at(run(100 + i as u64, 200, factor), i, ""))
            .await
            .unwrap();
    }
    let t = h
        .trend("overall", "latency_median", 50, &TrendOptions::default())
        .await
        .unwrap();
    assert_eq!(t.points.len(), 16);
    assert_eq!(t.change_point, Some(10), "{t:?}");
    assert!(t.slope_per_run > 0.0);
    let ok = h
        .trend("overall", "success_rate", 50, &TrendOptions::default())
        .await
        .unwrap();
    assert_eq!(ok.change_point, None);
    // Runs 10..16 are repeats of one build: their noise is small (2% run noise plus the
    // sampling error of a 200-query median).
    let noise = h.estimate_run_noise(6).await.unwrap().unwrap();
    assert!(noise > 0.0 && noise < 0.1, "noise {noise}");
    let all = h.trends(8, &TrendOptions::default()).await.unwrap();
    assert!(all.iter().any(|t| t.metric == "latency_p95"));
    assert!(all.iter().all(|t| t.points.len() == 8));
    h.close().await;
}

#[tokio::test]
async fn streaming_metrics_are_recorded_and_trended_only_when_measured() {
    let dir = tempfile::tempdir().unwrap();
    let h = History::open(dir.path().join("history.db")).await.unwrap();
    h.record(&at(run(1, 80, 1.0), 0, "")).await.unwrap();
    for i in 1..6 {
        let ttft = if i >= 3 { 300.0 } else { 200.0 };
        let r = super::streaming_run(200 + i as u64, 200, ttft);
        h.record(&at(r, i, "")).await.unwrap();
    }
    let ttft = h.series("overall", "ttft_median", 10).await.unwrap();
    assert_eq!(
        ttft.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["run-01", "run-02", "run-03", "run-04", "run-05"],
        "the run that streamed nothing has no TTFT, not a 0"
    );
    assert!((ttft[0].2 - 200.0).abs() < 20.0, "{ttft:?}");
    assert!((ttft[4].2 - 300.0).abs() < 30.0, "{ttft:?}");
    for metric in [
        "ttft_mean",
        "ttft_p95",
        "ttft_p99",
        "itl_median",
        "itl_p95",
        "tpot_median",
        "tpot_p95",
        "output_tokens",
    ] {
        assert_eq!(
            h.series("overall", metric, 10).await.unwrap().len(),
            5,
            "{metric}"
        );
    }
    // 200 answers of 100 tokens over the simulated 10 s.
    let rate = h
        .series("overall", "output_tokens_per_s", 10)
        .await
        .unwrap();
    assert_eq!(rate.len(), 5);
    assert_eq!(rate[0].2, 2000.0);
    let per_agent = h
        .series("agent:digest_generation", "ttft_median", 10)
        .await
        .unwrap();
    assert_eq!(per_agent.len(), 5);
    let trends = h.trends(10, &TrendOptions::default()).await.unwrap();
    for metric in perf_baseline::STREAMING_TREND_METRICS {
        let t = trends
            .iter()
            .find(|t| t.metric == metric)
            .unwrap_or_else(|| panic!("no trend of {metric}"));
        assert_eq!(t.points.len(), 5, "{metric}");
    }
    h.close().await;

    // A history of runs that never streamed has no streaming trends.
    let h = History::open(dir.path().join("plain.db")).await.unwrap();
    for i in 0..3 {
        h.record(&at(run(300 + i as u64, 80, 1.0), i, ""))
            .await
            .unwrap();
    }
    let trends = h.trends(10, &TrendOptions::default()).await.unwrap();
    assert!(trends
        .iter()
        .all(|t| !perf_baseline::STREAMING_TREND_METRICS.contains(&t.metric.as_str())));
    assert!(trends.iter().any(|t| t.metric == "latency_median"));
    h.close().await;
}
