use std::io::BufRead;
use std::sync::atomic::Ordering;
use std::time::Duration;

use perf_core::{ClosedLoop, LoadProfile, Sample};
use perf_runner::{Plan, RunEvent, Runner, RunnerConfig, RunnerError};

use crate::support::{assert_near, cancelled_after, drain, new_result, queries, samples, Scripted};

fn endless(users: usize) -> LoadProfile {
    LoadProfile::Closed(ClosedLoop {
        users,
        think_time: Duration::ZERO,
        rate_limit_per_second: None,
        duration: Some(Duration::from_secs(3_600)),
    })
}

#[tokio::test(start_paused = true)]
async fn cancellation_returns_the_partial_result_marked_interrupted() {
    let target = Scripted::fixed(100);
    let (token, canceller) = cancelled_after(Duration::from_millis(1_050));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target.clone(), RunnerConfig::default())
        .with_cancel(token.clone())
        .with_events(tx);
    let mut result = new_result();
    let stats = runner
        .run(&Plan::new(queries(5), endless(2)), &mut result)
        .await
        .unwrap();
    canceller.await.unwrap();
    assert!(stats.interrupted);
    assert!(result.interrupted);
    // 10 rounds done by 1.0 s; the 11th round was in flight and finished in the grace period.
    assert_eq!(stats.sent, 22);
    assert_eq!(result.overall.count, 22);
    assert_eq!(stats.abandoned, 0);
    assert_near(stats.wall_time_s, 1.1);
    let events = drain(&mut rx);
    assert!(matches!(events.first(), Some(RunEvent::Started { .. })));
    assert!(matches!(
        events.last(),
        Some(RunEvent::Finished { interrupted: true })
    ));
    assert_eq!(samples(&events).len(), 22);
    assert_eq!(target.calls.load(Ordering::SeqCst), 22);
}

#[tokio::test(start_paused = true)]
async fn queries_still_in_flight_after_the_grace_period_are_abandoned() {
    let target = Scripted::fixed(60_000);
    let (token, canceller) = cancelled_after(Duration::from_secs(1));
    let config = RunnerConfig {
        grace_period: Duration::from_secs(2),
        query_timeout: Duration::from_secs(120),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config).with_cancel(token.clone());
    let mut result = new_result();
    let stats = runner
        .run(&Plan::new(queries(5), endless(3)), &mut result)
        .await
        .unwrap();
    canceller.await.unwrap();
    assert!(stats.interrupted);
    assert_eq!(stats.abandoned, 3);
    assert_eq!(stats.sent, 0);
    assert_near(stats.wall_time_s, 3.0);
    assert!(result.notes.iter().any(|n| n.contains("grace period")));
}

/// Issue #16: a second Ctrl-C (`with_end_grace`) while queries hang ends an hour-long grace
/// period at once; the run returns what finished, the hung queries abandoned.
#[tokio::test(start_paused = true)]
async fn ending_the_grace_period_abandons_hung_queries_at_once() {
    let target = Scripted::fixed(60_000);
    let (token, canceller) = cancelled_after(Duration::from_secs(1));
    let (end_grace, ender) = cancelled_after(Duration::from_secs(2));
    let config = RunnerConfig {
        grace_period: Duration::from_secs(3_600),
        query_timeout: Duration::from_secs(7_200),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config)
        .with_cancel(token.clone())
        .with_end_grace(end_grace);
    // A watcher that would fire 10 s in: the run must have returned before it did, so the
    // second stop (at 2 s), not the hour of grace, ended it.
    let (watch, watcher) = cancelled_after(Duration::from_secs(10));
    let mut result = new_result();
    let stats = runner
        .run(&Plan::new(queries(5), endless(3)), &mut result)
        .await
        .unwrap();
    assert!(!watch.is_cancelled(), "the run waited past the second stop");
    canceller.await.unwrap();
    ender.await.unwrap();
    watcher.abort();
    assert!(stats.interrupted);
    assert_eq!(stats.abandoned, 3);
}

#[tokio::test(start_paused = true)]
async fn an_open_loop_stops_scheduling_on_cancellation() {
    let target = Scripted::fixed(10);
    let (token, canceller) = cancelled_after(Duration::from_millis(995));
    let runner = Runner::new(target, RunnerConfig::default()).with_cancel(token.clone());
    let mut result = new_result();
    let plan = Plan::new(
        queries(5),
        LoadProfile::constant(10.0, Duration::from_secs(60), 10),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    canceller.await.unwrap();
    assert!(stats.interrupted);
    assert_eq!(stats.sent, 10);
    assert_eq!(result.overall.successes, 10);
    assert_near(stats.wall_time_s, 0.995);
}

#[tokio::test(start_paused = true)]
async fn raw_samples_stream_to_json_lines_across_plans() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("samples.jsonl");
    let config = RunnerConfig {
        samples_path: Some(path.clone()),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(Scripted::fixed(5), config);
    let mut result = new_result();
    let plan = Plan::new(queries(7), LoadProfile::closed(2, None));
    runner.run(&plan, &mut result).await.unwrap();
    runner.run(&plan, &mut result).await.unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let lines: Vec<Sample> = std::io::BufReader::new(file)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert_eq!(lines.len(), 14, "the second plan appends");
    assert!(lines
        .iter()
        .all(|s| s.latency_us == 5_000 && s.attempts == 1));
    assert_eq!(result.overall.count, 14);

    // A fresh runner truncates.
    let config = RunnerConfig {
        samples_path: Some(path.clone()),
        ..RunnerConfig::default()
    };
    Runner::new(Scripted::fixed(5), config)
        .run(&plan, &mut new_result())
        .await
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 7);
}

#[tokio::test(start_paused = true)]
async fn an_unwritable_samples_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("samples.jsonl");
    let config = RunnerConfig {
        samples_path: Some(path.clone()),
        ..RunnerConfig::default()
    };
    let err = Runner::new(Scripted::fixed(1), config)
        .run(
            &Plan::new(queries(1), LoadProfile::closed(1, None)),
            &mut new_result(),
        )
        .await
        .unwrap_err();
    assert!(matches!(&err, RunnerError::Samples { path: p, .. } if *p == path));
    assert!(err.to_string().contains("missing-dir"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn started_announces_the_planned_count() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = RunnerConfig {
        sample_events: false,
        ..RunnerConfig::default()
    };
    let runner = Runner::new(Scripted::fixed(1), config).with_events(tx);
    let plan = Plan::new(
        queries(3),
        LoadProfile::constant(10.0, Duration::from_secs(2), 5),
    );
    runner.run(&plan, &mut new_result()).await.unwrap();
    let events = drain(&mut rx);
    assert_eq!(events[0], RunEvent::Started { planned: Some(20) });
    assert!(samples(&events).is_empty(), "sample events switched off");
}

#[tokio::test(start_paused = true)]
async fn open_loop_queries_past_the_grace_period_are_abandoned_and_drops_kept() {
    let target = Scripted::fixed(60_000);
    let (token, canceller) = cancelled_after(Duration::from_millis(950));
    let config = RunnerConfig {
        grace_period: Duration::from_secs(2),
        query_timeout: Duration::from_secs(120),
        ..RunnerConfig::default()
    };
    let runner = Runner::new(target, config).with_cancel(token.clone());
    let mut result = new_result();
    let plan = Plan::new(
        queries(4),
        LoadProfile::constant(10.0, Duration::from_secs(60), 3),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    canceller.await.unwrap();
    assert!(stats.interrupted);
    assert_eq!(stats.abandoned, 3);
    assert_eq!(stats.dropped, 7);
    assert_eq!(result.schedule.dropped, 7);
    assert_eq!(result.overall.count, 7, "only the drops were recorded");
    assert_near(stats.wall_time_s, 2.95);
}
