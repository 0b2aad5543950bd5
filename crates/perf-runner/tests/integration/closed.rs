use std::sync::atomic::Ordering;
use std::time::Duration;

use perf_core::{ClosedLoop, LoadProfile};
use perf_runner::{Plan, Runner, RunnerConfig};

use crate::support::{assert_near, drain, new_result, queries, samples, Reply, Scripted, Step};

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
async fn a_binding_ceiling_spaces_starts_whatever_the_number_of_users() {
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
    // At most 10 starts a second: query k starts at k / 10 s.
    let expected: Vec<u64> = (0..20).map(|k| k * 100_000).collect();
    assert_eq!(starts, expected);
    assert_eq!(result.schedule.late_starts, 0);
    // Last start at 1.9 s, plus its 10 ms answer.
    assert_near(result.wall_time_s, 1.91);
}

/// In a closed loop a user is busy while its query is out: one stalled answer is one slow
/// query, and the queries after it count from when their user was free, not from a
/// schedule that ran ahead meanwhile (the open loop is where queueing shows; see open.rs).
#[tokio::test(start_paused = true)]
async fn a_stalled_answer_is_one_slow_query_not_a_queue() {
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
    let slow: Vec<_> = events.iter().filter(|s| s.latency_us > 10_000).collect();
    assert_eq!(slow.len(), 1, "only the stalled query is slow");
    assert_eq!(slow[0].latency_us, 2_000_000);
    for s in &events {
        assert_eq!(s.latency_us, s.service_us, "latency is the answer time");
    }
    // The ceiling still spaces starts: 4 at 0.1 s steps (the fourth stalls until 2.3 s),
    // then 26 more from 2.3 s on, 0.1 s apart.
    let mut starts: Vec<u64> = events.iter().map(|s| s.scheduled_at_us).collect();
    starts.sort_unstable();
    let expected: Vec<u64> = (0..4)
        .map(|k| k * 100_000)
        .chain((0..26).map(|k| 2_300_000 + k * 100_000))
        .collect();
    assert_eq!(starts, expected);
    assert_eq!(result.schedule.late_starts, 0);
}

/// The first worked example of the closed-loop issue: a bot that answers in exactly
/// 100 ms, 5 users, a ceiling (1,000/s) far above what 5 users can send (50/s).
#[tokio::test(start_paused = true)]
async fn a_ceiling_above_capacity_reports_the_service_time() {
    let target = Scripted::fixed(100);
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(queries(100), closed(5, Some(1_000.0), 0, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    for p in [50.0, 95.0, 99.0, 100.0] {
        assert_near(
            result.overall.latency.percentile_micros(p) as f64,
            100_000.0,
        );
    }
    assert_eq!(stats.ceiling_per_s, Some(1_000.0));
    // 100 queries on 5 users of 100 ms: 2 s (the ceiling staggers starts by 1 ms).
    assert!((stats.achieved_per_s - 50.0).abs() < 1.0, "{stats:?}");
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("the bot, not the ceiling, limited throughput")),
        "{:?}",
        result.notes
    );
}

/// The second worked example: the original suite's config (5 users, ceiling 10/s) against a
/// bot of 1.7 s per answer. Reported latency is the answer time, whatever the query count.
#[tokio::test(start_paused = true)]
async fn a_slow_bot_under_the_original_config_reports_its_answer_time_at_any_query_count() {
    let mut p95 = Vec::new();
    for n in [50, 200] {
        let target = Scripted::fixed(1_700);
        let runner = Runner::new(target, RunnerConfig::default());
        let mut result = new_result();
        let plan = Plan::new(queries(n), closed(5, Some(10.0), 0, None));
        runner.run(&plan, &mut result).await.unwrap();
        assert_near(result.overall.latency.mean_micros(), 1_700_000.0);
        p95.push(result.overall.latency.percentile_micros(95.0));
    }
    assert_eq!(p95[0], p95[1], "latency does not grow with query_count");
    assert_near(p95[0] as f64, 1_700_000.0);
}

/// A ceiling below capacity paces starts and still reports the answer time.
#[tokio::test(start_paused = true)]
async fn a_ceiling_below_capacity_paces_and_reports_the_service_time() {
    let target = Scripted::fixed(100);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    // 5 users could send 50/s; the ceiling allows 20/s.
    let plan = Plan::new(queries(40), closed(5, Some(20.0), 0, None));
    let stats = runner.run(&plan, &mut result).await.unwrap();
    let mut starts: Vec<u64> = samples(&drain(&mut rx))
        .iter()
        .map(|s| s.scheduled_at_us)
        .collect();
    starts.sort_unstable();
    let expected: Vec<u64> = (0..40).map(|k| k * 50_000).collect();
    assert_eq!(starts, expected, "starts 50 ms apart");
    assert_near(
        result.overall.latency.percentile_micros(100.0) as f64,
        100_000.0,
    );
    assert!((stats.achieved_per_s - 20.0).abs() < 0.6, "{stats:?}");
    assert!(
        result
            .notes
            .iter()
            .any(|n| n.contains("the ceiling limited throughput")),
        "{:?}",
        result.notes
    );
}

/// Chains keep consecutive queries together on one user (a hostile query and its probe)
/// while several users work at once.
#[tokio::test(start_paused = true)]
async fn chained_queries_stay_in_order_on_one_user_while_users_run_in_parallel() {
    let target = Scripted::fixed(100);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target.clone(), RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(queries(40), closed(4, None, 0, None)).with_chain(2);
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 40);
    assert_eq!(target.max_in_flight.load(Ordering::SeqCst), 4);
    // 20 pairs on 4 users: 5 rounds of two 100 ms queries, the last answer at 1 s.
    let events = samples(&drain(&mut rx));
    let last_answer = events
        .iter()
        .map(|s| s.scheduled_at_us + s.latency_us)
        .max();
    assert_eq!(last_answer, Some(1_000_000));
    // Each pair's second query starts when its first answered.
    let starts: Vec<u64> = events.iter().map(|s| s.scheduled_at_us).collect();
    assert_eq!(starts.iter().filter(|&&t| t % 200_000 == 0).count(), 20);
    assert_eq!(
        starts.iter().filter(|&&t| t % 200_000 == 100_000).count(),
        20
    );
    assert!(Plan::new(queries(2), closed(1, None, 0, None))
        .with_chain(0)
        .validate()
        .is_err());
}

#[tokio::test(start_paused = true)]
async fn a_sample_sink_gets_every_querys_sample_by_the_time_run_returns() {
    // Every third query fails, so the sink carries both paths: answered and failed.
    let target = Scripted::new(|n, _| {
        if n % 3 == 2 {
            Step {
                delay: Duration::from_millis(10),
                reply: Reply::Error(perf_core::ErrorKind::Bot),
            }
        } else {
            Step::ok(10)
        }
    });
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let plan = Plan::new(queries(9), closed(3, None, 0, None)).with_sample_sink(tx);
    runner.run(&plan, &mut result).await.unwrap();
    let mut got = Vec::new();
    while let Ok(s) = rx.try_recv() {
        got.push(s);
    }
    let mut ids: Vec<String> = got.iter().map(|s| s.query_id.clone()).collect();
    ids.sort_unstable();
    let mut expected: Vec<String> = (0..9).map(|i| format!("q{i}")).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let failed = got.iter().filter(|s| !s.outcome.is_success()).count() as u64;
    assert_eq!(failed, result.overall.failures());
    assert_eq!(failed, 3);
    assert!(got
        .iter()
        .filter(|s| s.outcome.is_success())
        .all(|s| s.agent.as_deref() == Some("search") && s.latency_us == 10_000));
    // The aggregate is the same as without a sink.
    assert_eq!(result.overall.count, 9);
    assert_eq!(result.per_agent["search"].successes, 6);
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

#[tokio::test(start_paused = true)]
async fn sample_events_name_the_answering_agent_and_the_scenario_sharing_one_allocation() {
    let target = Scripted::fixed(10);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(queries(12), closed(1, None, 0, None));
    runner.run(&plan, &mut result).await.unwrap();
    let events = samples(&drain(&mut rx));
    assert_eq!(events.len(), 12);
    let first = events[0]
        .agent
        .clone()
        .expect("the scripted bot names its agent");
    assert_eq!(&*first, "search");
    for s in &events {
        let agent = s.agent.as_ref().expect("every answer names its agent");
        // One worker interns the name: every event shares the first allocation.
        assert!(std::sync::Arc::ptr_eq(agent, &first));
        assert_eq!(s.scenario.as_deref(), Some("test"));
        assert_eq!(s.ttft_us, None, "nothing streamed");
    }
}

/// Answers after 10 ms, as a stream whose first token came after 3 ms.
struct Streamed;

#[async_trait::async_trait]
impl perf_core::BotTarget for Streamed {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(
        &self,
        _query: &perf_core::Query,
    ) -> Result<perf_core::BotResponse, perf_core::TargetError> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut r = perf_core::BotResponse::new("streamed answer".to_owned(), "search");
        r.time_to_first_token = Some(Duration::from_millis(3));
        r.time_to_last_token = Some(Duration::from_millis(9));
        r.stream_chunks = Some(4);
        Ok(r)
    }
}

#[tokio::test(start_paused = true)]
async fn sample_events_carry_the_time_to_first_token_of_streamed_answers() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner =
        Runner::new(std::sync::Arc::new(Streamed), RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    runner
        .run(
            &Plan::new(queries(3), closed(1, None, 0, None)),
            &mut result,
        )
        .await
        .unwrap();
    let events = samples(&drain(&mut rx));
    assert_eq!(events.len(), 3);
    assert!(
        events.iter().all(|s| s.ttft_us == Some(3_000)),
        "{events:?}"
    );
}
