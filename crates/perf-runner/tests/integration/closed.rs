use std::sync::atomic::Ordering;
use std::time::Duration;

use perf_core::{ClosedLoop, LoadProfile, ScheduleStats};
use perf_runner::{Plan, Runner, RunnerConfig};

use crate::support::{assert_near, drain, new_result, queries, samples, Scripted, Step};

fn closed(
    users: usize,
    rate: Option<f64>,
    think_ms: u64,
    duration: Option<Duration>,
) -> LoadProfile {
    LoadProfile::Closed(ClosedLoop {
        users,
        think_time: Duration::from_millis(think_ms),
        rate_limit_per_second: rate,
        duration,
    })
}

#[tokio::test(start_paused = true)]
async fn each_query_is_sent_once_by_at_most_n_users() {
    let target = Scripted::fixed(100);
    let runner = Runner::new(target.clone(), RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(queries(100), closed(5, None, 0, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 100);
    assert_eq!(target.calls.load(Ordering::SeqCst), 100);
    assert_eq!(target.max_in_flight.load(Ordering::SeqCst), 5);
    // 100 queries of 100 ms on 5 users: exactly 20 rounds on the paused clock.
    assert_near(stats.wall_time_s, 2.0);
    assert_near(result.wall_time_s, 2.0);
    assert_eq!(result.overall.successes, 100);
    assert_near(
        result.overall.latency.percentile_micros(100.0) as f64,
        100_000.0,
    );
    assert_eq!(result.overall.routing.accuracy(), Some(1.0));
    assert_eq!(result.per_agent["search"].count, 100);
    assert!(!result.interrupted);
}

#[tokio::test(start_paused = true)]
async fn rate_limit_is_a_pacing_schedule_not_a_semaphore() {
    let target = Scripted::fixed(10);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(queries(20), closed(4, Some(10.0), 0, None));
    runner.run(&plan, &mut result).await.unwrap();
    let mut starts: Vec<u64> = samples(&drain(&mut rx))
        .iter()
        .map(|s| s.scheduled_at_us)
        .collect();
    starts.sort_unstable();
    // Query k is due at k / 10 s, whatever the number of users.
    let expected: Vec<u64> = (0..20).map(|k| k * 100_000).collect();
    assert_eq!(starts, expected);
    assert_eq!(result.schedule.late_starts, 0);
    // Last start at 1.9 s, plus its 10 ms answer.
    assert_near(result.wall_time_s, 1.91);
}

/// Coordinated omission: one stalled answer holds up the only user; the queries that were
/// due meanwhile must show the time they waited.
#[tokio::test(start_paused = true)]
async fn a_stalled_target_shows_its_queue_in_latency() {
    let target = Scripted::new(|n, _| {
        if n == 3 {
            Step::ok(2_000)
        } else {
            Step::ok(10)
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(queries(30), closed(1, Some(10.0), 0, None));
    runner.run(&plan, &mut result).await.unwrap();
    let events = samples(&drain(&mut rx));
    // Query 4 was due at 0.4 s but could only start when query 3 answered at 2.3 s.
    let q4 = events
        .iter()
        .find(|s| s.scheduled_at_us == 400_000)
        .expect("query 4 recorded");
    assert_eq!(q4.latency_us, 1_910_000);
    assert_eq!(q4.service_us, 10_000);
    // The queries due during the stall (0.4 s .. 2.3 s) all waited.
    let waited = events.iter().filter(|s| s.latency_us > 100_000).count();
    assert!(waited >= 19, "{waited} queries show queueing");
    assert!(result.schedule.late_starts >= 19);
    // Service time alone would hide the stall for everything but query 3.
    assert_near(
        result.overall.service.percentile_micros(90.0) as f64,
        10_000.0,
    );
    assert!(result.overall.latency.percentile_micros(50.0) > 500_000);
    let lag_p99 = result.schedule.start_lag.percentile_micros(99.0);
    assert!(lag_p99 > ScheduleStats::LATE_THRESHOLD_US);
}

#[tokio::test(start_paused = true)]
async fn think_time_spaces_a_users_queries() {
    let target = Scripted::fixed(100);
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(queries(3), closed(1, None, 500, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    // 3 × 100 ms answers and 2 pauses of 500 ms; no pause after the last query.
    assert_near(stats.wall_time_s, 1.3);
    assert_near(
        result.overall.latency.percentile_micros(100.0) as f64,
        100_000.0,
    );
}

#[tokio::test(start_paused = true)]
async fn duration_cycles_queries_and_max_queries_caps() {
    let target = Scripted::fixed(100);
    let runner = Runner::new(target.clone(), RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(queries(3), closed(2, None, 0, Some(Duration::from_secs(1))));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 20, "2 users × 10 rounds of 100 ms");
    assert_eq!(result.per_category["search"].count, 20);

    let capped = Plan::new(
        queries(3),
        closed(2, None, 0, Some(Duration::from_secs(60))),
    )
    .with_max_queries(7);
    let stats = runner.run(&capped, &mut result).await.unwrap();
    assert_eq!(stats.sent, 7);
    assert_eq!(result.overall.count, 27);

    let once = Plan::new(queries(10), closed(2, None, 0, None)).with_max_queries(4);
    let stats = runner.run(&once, &mut result).await.unwrap();
    assert_eq!(stats.sent, 4);
}

#[tokio::test(start_paused = true)]
async fn rate_limited_duration_stops_at_the_schedule_end() {
    let target = Scripted::fixed(1);
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(
        queries(5),
        closed(3, Some(20.0), 0, Some(Duration::from_secs(2))),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 40);
    assert_eq!(stats.late, 0);
}

#[tokio::test(start_paused = true)]
async fn plans_follow_each_other_on_the_runs_clock() {
    let target = Scripted::fixed(100);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(queries(10), closed(1, None, 0, None));
    runner.run(&plan, &mut result).await.unwrap();
    drain(&mut rx);
    runner.run(&plan, &mut result).await.unwrap();
    let second = samples(&drain(&mut rx));
    assert_near(result.wall_time_s, 2.0);
    assert_eq!(
        second.iter().map(|s| s.scheduled_at_us).min(),
        Some(1_000_000)
    );
    assert_eq!(result.overall.count, 20);
    assert_eq!(result.timeline.buckets.len(), 2);
}
