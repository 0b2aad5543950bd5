//! The edge-case scenario as the suite sends it ([`EdgeCaseRun`]), against bots in this
//! process: robustness measures health, not knowledge of our facts, and the hostile/probe
//! pairs run in parallel without coming apart.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use perf_core::record::RunResult;
use perf_core::{
    BotResponse, BotTarget, ChannelStat, ContentProfile, ErrorKind, LoadProfile, Query, Scenario,
    TargetError, TargetInfo, TermStat, UserStat,
};
use perf_runner::{Plan, Runner, RunnerConfig};
use perf_suite::{Config, EdgeCaseRun};
use perf_synth::{EdgeCaseScenario, EdgeStages, EDGE_PAIR_LEN};
use tokio::time::Instant;

/// Every answer takes this long on the paused clock.
const LATENCY: Duration = Duration::from_millis(77);

fn profile() -> ContentProfile {
    ContentProfile {
        total_messages: 300,
        channels: vec![ChannelStat {
            name: "general".into(),
            messages: 300,
        }],
        users: vec![UserStat {
            name: "alice".into(),
            messages: 300,
        }],
        top_terms: vec![TermStat {
            term: "rust".into(),
            count: 40,
        }],
        first_message_at: 0,
        last_message_at: 86_400 * 7,
    }
}

fn edge_queries() -> Vec<Query> {
    EdgeCaseScenario::new().queries(&profile(), 42)
}

/// A query as the bot saw it: when it started and ended on the paused clock.
#[derive(Debug, Clone)]
struct Call {
    id: String,
    start: Instant,
    end: Instant,
}

type Answer = dyn Fn(&Query) -> Result<BotResponse, TargetError> + Send + Sync;

/// A bot that answers after [`LATENCY`] as `answer` says, and records every call.
struct Bot {
    answer: Box<Answer>,
    calls: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Bot {
    fn new(
        answer: impl Fn(&Query) -> Result<BotResponse, TargetError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            answer: Box::new(answer),
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait]
impl BotTarget for Bot {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, q: &Query) -> Result<BotResponse, TargetError> {
        let start = Instant::now();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(LATENCY).await;
        let answer = (self.answer)(q);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.calls.lock().unwrap().push(Call {
            id: q.id.clone(),
            start,
            end: Instant::now(),
        });
        answer
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo::default()
    }
}

fn new_result() -> RunResult {
    RunResult::new("edge", "2026-01-01T00:00:00Z", TargetInfo::default())
}

fn edge_run(users: usize) -> EdgeCaseRun {
    EdgeCaseRun {
        users,
        threshold: perf_synth::DEFAULT_ROBUSTNESS_THRESHOLD,
    }
}

#[tokio::test(start_paused = true)]
async fn an_ok_bot_passes_every_robustness_class_and_fails_the_critical_paths() {
    let bot = Bot::new(|_| Ok(BotResponse::new("ok", "chat")));
    let runner = Runner::new(bot.clone(), RunnerConfig::default());
    let mut result = new_result();
    let report = edge_run(5)
        .run(&runner, &edge_queries(), &mut result)
        .await
        .unwrap();
    assert_eq!(report.classes.len(), perf_synth::EdgeClass::ALL.len());
    assert!(
        report.passed(),
        "{}",
        serde_json::to_string_pretty(&report.failures).unwrap()
    );
    assert!(report.failures.is_empty());
    // It knows none of our facts: every control and probe failed its grounded expectation.
    assert_eq!(report.controls.graceful, 0);
    assert_eq!(report.controls.failure_modes["failed_expectation"], 4);
    let probes = result
        .per_category
        .iter()
        .filter(|(c, _)| c.ends_with(perf_synth::HEALTH_PROBE_SUFFIX));
    for (category, g) in probes {
        assert_eq!(g.successes, 0, "{category}");
    }
    assert!(report
        .checks()
        .iter()
        .all(|c| c.passed() && c.group.rule() == Some(perf_synth::HEALTH_PROBE_RULE)));

    // The critical paths judge knowledge, and it has none.
    let standard = perf_synth::generate_standard_queries(&profile(), 24, 1);
    runner
        .run(
            &Plan::new(standard, LoadProfile::closed(5, None)),
            &mut result,
        )
        .await
        .unwrap();
    let rt = Config::default().regression_testing;
    let checks = perf_baseline::critical_path_checks(&result, &rt.critical_paths, &rt.limits);
    assert_eq!(checks.len(), perf_core::agents::ALL.len());
    for c in &checks {
        assert!(!c.passed(), "{}: {}", c.name, c.reason);
        assert!(c.reason.contains("0/6 ok"), "{}: {}", c.name, c.reason);
    }
}

#[tokio::test(start_paused = true)]
async fn a_bot_that_dies_after_a_hostile_query_is_unhealthy_in_the_probe_after_it() {
    let dead = Arc::new(AtomicBool::new(false));
    let dies = dead.clone();
    let bot = Bot::new(move |q| {
        if dies.load(Ordering::SeqCst) {
            return Err(TargetError::new(ErrorKind::Crashed, "bot process exited"));
        }
        if q.text.contains("DROP TABLE") {
            dies.store(true, Ordering::SeqCst);
        }
        Ok(BotResponse::new("Nothing found.", "semantic_search"))
    });
    let runner = Runner::new(bot, RunnerConfig::default());
    let mut result = new_result();
    let report = edge_run(4)
        .run(&runner, &edge_queries(), &mut result)
        .await
        .unwrap();
    assert!(dead.load(Ordering::SeqCst));
    // The hostile query itself was answered; the probe after it found the bot dead.
    assert!(!report
        .failures
        .iter()
        .any(|f| f.query_id == "edge-sql_injection-00"));
    let probe = report
        .failures
        .iter()
        .find(|f| f.query_id == "edge-sql_injection-00-health")
        .expect("the probe after DROP TABLE failed");
    assert!(probe.health_probe);
    assert_eq!(probe.outcome, "error:crashed");
    assert_eq!(
        probe.how,
        "unhealthy after edge-sql_injection-00: error (crashed): bot process exited"
    );
    let sql = &report.classes["sql_injection"];
    assert!(!sql.passed);
    assert_eq!(
        sql.health.failure_modes["error:crashed"],
        sql.health.queries
    );
    // Classes sent before it are unharmed; every later one is broken.
    assert!(report.classes["long_query"].passed);
    assert_eq!(report.controls.queries, 4);
    for class in ["command_injection", "unicode", "xss"] {
        assert_eq!(report.classes[class].health.graceful, 0, "{class}");
    }
    let check = report
        .checks()
        .into_iter()
        .find(|c| c.name == "sql_injection")
        .unwrap();
    assert!(!check.passed());
    assert!(
        check.reason.contains("edge-sql_injection-00-health"),
        "{}",
        check.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_bot_passes_every_class_in_parallel_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let fixture = perf_synth::FixtureConfig {
        messages: 1_500,
        ..perf_synth::FixtureConfig::default()
    };
    perf_synth::generate_database(&path, &fixture)
        .await
        .unwrap();
    let pool = perf_synth::open_database(&path).await.unwrap();
    let content = perf_synth::analyze_content(&pool, &path).await.unwrap();
    pool.close().await;
    let bot = perf_refbot::RefBot::open(perf_refbot::RefBotConfig {
        database_path: path,
        latency_scale: 0.0,
        ..perf_refbot::RefBotConfig::default()
    })
    .await
    .unwrap();
    let runner = Runner::new(Arc::new(bot), RunnerConfig::default());
    let queries = EdgeCaseScenario::new().queries(&content, 42);
    let mut result = new_result();
    let report = edge_run(5)
        .run(&runner, &queries, &mut result)
        .await
        .unwrap();
    assert!(
        report.passed(),
        "{}",
        serde_json::to_string_pretty(&report.failures).unwrap()
    );
    // It knows the facts, so its probes were held to them, and met them.
    assert_eq!(report.controls.graceful, report.controls.queries);
    assert_eq!(result.overall.count, queries.len() as u64);
    assert_eq!(result.overall.successes, queries.len() as u64);
}

/// Runs the edge-case scenario on `users` users; returns the bot's calls, the most queries
/// it had in flight, and the run's wall time.
async fn timed_run(users: usize) -> (Vec<Call>, usize, f64) {
    let bot = Bot::new(|q| {
        Ok(BotResponse::new(
            "Here is what I found.",
            q.expected_agent.as_deref().unwrap_or("chat"),
        ))
    });
    let runner = Runner::new(bot.clone(), RunnerConfig::default());
    let mut result = new_result();
    edge_run(users)
        .run(&runner, &edge_queries(), &mut result)
        .await
        .unwrap();
    (
        bot.calls(),
        bot.max_in_flight.load(Ordering::SeqCst),
        result.wall_time_s,
    )
}

#[tokio::test(start_paused = true)]
async fn pairs_stay_in_order_on_one_user_and_n_users_take_an_nth_of_the_time() {
    let stages = EdgeStages::split(&edge_queries());
    let controls = stages.controls.len();
    let pairs = stages.pairs.len() / EDGE_PAIR_LEN;
    assert_eq!((controls, pairs), (4, 66));
    let pair_time = LATENCY.as_secs_f64() * EDGE_PAIR_LEN as f64;

    let (one_calls, one_max, one_wall) = timed_run(1).await;
    let (six_calls, six_max, six_wall) = timed_run(6).await;
    assert_eq!((one_max, six_max), (1, 6));
    let near = |a: f64, b: f64| assert!((a - b).abs() < 1e-6, "{a} s, expected {b} s");
    // One user: every query in turn. Six: the controls at once, then 66 / 6 = 11 rounds
    // of a pair each, so the pairs take exactly a sixth of the time.
    let one_controls = controls as f64 * LATENCY.as_secs_f64();
    near(one_wall, one_controls + pairs as f64 * pair_time);
    near(six_wall, LATENCY.as_secs_f64() + 11.0 * pair_time);
    near(
        (six_wall - LATENCY.as_secs_f64()) * 6.0,
        one_wall - one_controls,
    );

    for calls in [&one_calls, &six_calls] {
        assert_eq!(calls.len(), controls + stages.pairs.len());
        let at = |id: &str| calls.iter().find(|c| c.id == id).unwrap();
        // Every control was answered before the first hostile query started.
        let last_control = stages.controls.iter().map(|q| at(&q.id).end).max().unwrap();
        let first_hostile = stages.pairs.iter().map(|q| at(&q.id).start).min().unwrap();
        assert!(last_control <= first_hostile);
        // Each probe started the moment its hostile query was answered: the same user
        // sent it next, with no other query of that user in between.
        for pair in stages.pairs.chunks(EDGE_PAIR_LEN) {
            let (attack, probe) = (at(&pair[0].id), at(&pair[1].id));
            assert_eq!(probe.start, attack.end, "{}", pair[1].id);
        }
    }
}
