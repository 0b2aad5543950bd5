use std::sync::atomic::Ordering;
use std::time::Duration;

use perf_core::{Arrival, LoadProfile, OpenLoop, Outcome, Stage};
use perf_runner::{Plan, RunEvent, Runner, RunnerConfig};

use crate::support::{assert_near, cancelled_after, drain, new_result, queries, samples, Scripted};

#[tokio::test(start_paused = true)]
async fn constant_rate_arrivals_start_on_time_and_measure_from_intent() {
    let target = Scripted::fixed(20);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target.clone(), RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(
        queries(7),
        LoadProfile::constant(10.0, Duration::from_secs(2), 50),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 20);
    assert_eq!(stats.dropped, 0);
    assert_eq!(target.calls.load(Ordering::SeqCst), 20);
    let events = drain(&mut rx);
    let mut starts: Vec<u64> = samples(&events).iter().map(|s| s.scheduled_at_us).collect();
    starts.sort_unstable();
    assert_eq!(starts, (0..20).map(|k| k * 100_000).collect::<Vec<_>>());
    assert!(samples(&events).iter().all(|s| s.latency_us == 20_000));
    assert_eq!(result.schedule.late_starts, 0);
    assert!(events
        .iter()
        .any(|e| matches!(e, RunEvent::Phase(p) if p.starts_with("stage 1/1"))));
    // The last arrival is due at 1.9 s and answers 20 ms later.
    assert_near(stats.wall_time_s, 1.92);
}

#[tokio::test(start_paused = true)]
async fn ramps_and_steps_follow_their_stages() {
    let target = Scripted::fixed(1);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(target, RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let plan = Plan::new(
        queries(4),
        LoadProfile::ramp(0.0, 20.0, Duration::from_secs(10), 100),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 100);
    let starts: Vec<u64> = samples(&drain(&mut rx))
        .iter()
        .map(|s| s.scheduled_at_us)
        .collect();
    // Λ(t) = t²: a quarter of the arrivals in the first half.
    let first_half = starts.iter().filter(|&&t| t < 5_000_000).count();
    assert_eq!(first_half, 25);

    let step = Plan::new(
        queries(4),
        LoadProfile::step(10.0, 30.0, 3, Duration::from_secs(3), 100),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let runner = Runner::new(Scripted::fixed(1), RunnerConfig::default()).with_events(tx);
    let mut result = new_result();
    let stats = runner.run(&step, &mut result).await.unwrap();
    assert_eq!(stats.sent, 60);
    let events = drain(&mut rx);
    let phases = events
        .iter()
        .filter(|e| matches!(e, RunEvent::Phase(_)))
        .count();
    assert_eq!(phases, 3);
    let starts: Vec<u64> = samples(&events).iter().map(|s| s.scheduled_at_us).collect();
    let in_last_second = starts.iter().filter(|&&t| t >= 2_000_000).count();
    assert_eq!(in_last_second, 30);
}

#[tokio::test(start_paused = true)]
async fn arrivals_beyond_the_cap_are_dropped_and_counted() {
    let target = Scripted::fixed(1_000);
    let runner = Runner::new(target.clone(), RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(
        queries(10),
        LoadProfile::constant(100.0, Duration::from_secs(1), 2),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    // The first two occupy the cap for the whole second.
    assert_eq!(stats.sent, 2);
    assert_eq!(stats.dropped, 98);
    assert_eq!(target.calls.load(Ordering::SeqCst), 2);
    assert_eq!(result.schedule.dropped, 98);
    assert_eq!(result.overall.outcome_count("dropped"), 98);
    assert_eq!(result.overall.count, 100);
    assert_eq!(result.overall.latency.count(), 2, "drops have no latency");
    assert!(result
        .failure_examples
        .iter()
        .any(|s| s.outcome == Outcome::Dropped && s.attempts == 0));
    // The note gives the drops and the rate offered (100 arrivals over the 1 s schedule).
    let note = result
        .notes
        .iter()
        .find(|n| n.starts_with("Open loop above the bot's capacity"))
        .expect("a note on the drops");
    assert!(
        note.contains("98 of 100 arrivals dropped at max_in_flight 2"),
        "{note}"
    );
    assert!(note.contains("100.00 arrivals/s offered"), "{note}");
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_target_builds_latency_from_intended_start() {
    // 10 arrivals per second, each answered in 150 ms by a target that serves one at a time.
    let target = Serial::new(150);
    let runner = Runner::new(target, RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(
        queries(3),
        LoadProfile::constant(10.0, Duration::from_secs(2), 100),
    );
    runner.run(&plan, &mut result).await.unwrap();
    // The k-th arrival answers at 150 ms × (k+1) but was due at 100 ms × k: the queue
    // grows by 50 ms per arrival, to 1.1 s for the last.
    assert_near(
        result.overall.latency.max_micros() as f64,
        (150.0 * 20.0 - 1_900.0) * 1_000.0,
    );
    assert!(result.overall.service.max_micros() >= 1_000_000);
}

#[tokio::test(start_paused = true)]
async fn poisson_arrivals_are_seeded() {
    let mut profile = OpenLoop {
        stages: vec![Stage::constant(50.0, Duration::from_secs(4))],
        arrival: Arrival::Poisson,
        max_in_flight: 100,
    };
    let run = |p: OpenLoop, seed: u64| async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let config = RunnerConfig {
            seed,
            ..RunnerConfig::default()
        };
        let runner = Runner::new(Scripted::fixed(1), config).with_events(tx);
        let mut result = new_result();
        let plan = Plan::new(queries(3), LoadProfile::Open(p));
        runner.run(&plan, &mut result).await.unwrap();
        let mut t: Vec<u64> = samples(&drain(&mut rx))
            .iter()
            .map(|s| s.scheduled_at_us)
            .collect();
        t.sort_unstable();
        t
    };
    let a = run(profile.clone(), 1).await;
    let b = run(profile.clone(), 1).await;
    let c = run(profile.clone(), 2).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!((140..=260).contains(&a.len()), "{} arrivals", a.len());
    profile.arrival = Arrival::Constant;
    assert_eq!(run(profile, 1).await.len(), 200);
}

/// A target that serves one query at a time (a bot with a single worker), so queries
/// queue inside it.
struct Serial {
    lock: tokio::sync::Mutex<()>,
    ms: u64,
}

impl Serial {
    fn new(ms: u64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            lock: tokio::sync::Mutex::new(()),
            ms,
        })
    }
}

#[async_trait::async_trait]
impl perf_core::BotTarget for Serial {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(
        &self,
        _query: &perf_core::Query,
    ) -> Result<perf_core::BotResponse, perf_core::TargetError> {
        let _one_at_a_time = self.lock.lock().await;
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        Ok(perf_core::BotResponse::new("ok", "search"))
    }
}

/// On a multi-thread runtime the schedule runs on a thread of its own (real clock): the
/// counts are exact, and only generous bounds are put on times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_thread_runtime_schedules_on_its_own_thread() {
    let target = Scripted::fixed(5);
    let runner = Runner::new(target.clone(), RunnerConfig::default());
    let mut result = new_result();
    let plan = Plan::new(
        queries(7),
        LoadProfile::constant(50.0, Duration::from_millis(600), 1_000),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 30);
    assert_eq!(target.calls.load(Ordering::SeqCst), 30);
    assert_eq!(result.overall.successes, 30);
    assert!(result.overall.service.min_micros() >= 5_000);
    assert!(stats.wall_time_s >= 0.58 && stats.wall_time_s < 30.0);

    // In-process answers that are ready at once are polled on the schedule's thread.
    let instant = Scripted::fixed(0);
    let runner = Runner::new(instant.clone(), RunnerConfig::default());
    let stats = runner.run(&plan, &mut result).await.unwrap();
    assert_eq!(stats.sent, 30);
    assert_eq!(result.overall.count, 60);
}

/// Runs an open loop at `rate` per second for up to 600 s on a 1 ms target, cancelled
/// after 300 ms of real time.
async fn cancelled_after_300_ms(
    rate: f64,
) -> (perf_runner::PlanStats, perf_core::record::RunResult) {
    let (token, canceller) = cancelled_after(Duration::from_millis(300));
    let runner =
        Runner::new(Scripted::fixed(1), RunnerConfig::default()).with_cancel(token.clone());
    let mut result = new_result();
    let plan = Plan::new(
        queries(3),
        LoadProfile::constant(rate, Duration::from_secs(600), 10),
    );
    let stats = runner.run(&plan, &mut result).await.unwrap();
    canceller.await.unwrap();
    (stats, result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_thread_stops_on_cancellation() {
    let (stats, result) = cancelled_after_300_ms(20.0).await;
    assert!(stats.interrupted && result.interrupted);
    assert!(stats.sent >= 1 && stats.sent < 12_000, "{}", stats.sent);
    assert!(stats.wall_time_s < 60.0);
}

/// The schedule thread parks until its next arrival; a cancellation unparks it at once
/// instead of after the gap (here 100 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_wakes_a_schedule_thread_parked_for_a_long_gap() {
    let (stats, _) = cancelled_after_300_ms(0.01).await;
    assert!(stats.interrupted);
    assert!(stats.sent <= 1, "{}", stats.sent);
    assert!(stats.wall_time_s < 50.0, "{}", stats.wall_time_s);
}
