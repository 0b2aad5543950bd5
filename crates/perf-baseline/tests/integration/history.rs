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
