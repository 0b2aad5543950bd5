//! The LLM mode against its own plan: in process on tokio's paused clock (exact), over
//! HTTP server-sent events and over streamed JSON lines (real clock, bounded).

use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use perf_core::{BotTarget, Query, TokenSource};
use perf_refbot::{plan_llm_query, LlmConfig, RefBot, RefBotConfig};
use perf_targets::{CommandTarget, CommandTargetConfig, HttpTarget, TargetSpec};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::Instant;

use crate::{fixture, test_config, Fixture, REFBOT};

const QUERIES: [&str; 5] = [
    "who is the most active user?",
    "what are people saying about rust?",
    "digest of #general this week",
    "how many messages are there per channel?",
    "find messages about deploys",
];

/// Slack on the real clock: scheduling, pipes and loopback, never the bot's own time.
const SLACK: Duration = Duration::from_millis(250);

/// Runs `f` on a blocking thread: tokio's paused clock does not auto-advance meanwhile,
/// so SQLite work on its own threads takes no virtual time.
async fn off_the_clock<M, F>(make: M) -> F::Output
where
    M: FnOnce() -> F + Send + 'static,
    F: Future,
    F::Output: Send + 'static,
{
    tokio::task::spawn_blocking(move || tokio::runtime::Handle::current().block_on(make()))
        .await
        .expect("blocking task")
}

fn llm_config(path: &std::path::Path, llm: LlmConfig) -> RefBotConfig {
    RefBotConfig {
        llm: Some(llm),
        ..test_config(path)
    }
}

/// A fixture and an LLM-mode bot, made off the paused clock.
async fn paused_bot(llm: LlmConfig) -> (Fixture, Arc<RefBot>, RefBotConfig) {
    off_the_clock(move || async move {
        let fx = fixture(300).await;
        let config = llm_config(&fx.path, llm);
        let bot = RefBot::open(config.clone()).await.expect("open refbot");
        (fx, Arc::new(bot), config)
    })
    .await
}

/// The answer the agents give `text`, computed off the clock.
/// Runs `bot.execute(q)` on the paused clock and checks it ends at `at` (plans are whole
/// milliseconds): still running 1 ms before, done 1 ms after.
async fn execute_ending_at(
    bot: &Arc<RefBot>,
    q: Query,
    at: Duration,
) -> Result<perf_core::BotResponse, perf_core::TargetError> {
    let bot = Arc::clone(bot);
    let task = tokio::spawn(async move { bot.execute(&q).await });
    tokio::time::sleep(at - Duration::from_millis(1)).await;
    assert!(!task.is_finished(), "ended before {at:?}");
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert!(task.is_finished(), "still running 1 ms after {at:?}");
    task.await.expect("the execute task")
}

async fn true_answer(bot: &Arc<RefBot>, text: &str) -> String {
    let bot = Arc::clone(bot);
    let text = text.to_owned();
    off_the_clock(move || async move { bot.answer(&text).await.expect("answer").0 }).await
}

#[tokio::test(start_paused = true)]
async fn in_process_ttft_and_service_time_equal_the_plan() {
    // Default seconds-scale medians and σ = 0.5: the tails are in the plan too.
    let (_fx, bot, config) = paused_bot(LlmConfig {
        slots: 1,
        ..LlmConfig::default()
    })
    .await;
    assert_eq!(bot.describe().name, "refbot-llm");
    for (i, text) in QUERIES.iter().enumerate() {
        let q = Query::new(format!("p{i}"), *text, "llm");
        let answer = true_answer(&bot, text).await;
        let plan = plan_llm_query(&config, bot.route(text), &q.id).expect("llm on");
        let r = execute_ending_at(&bot, q, plan.service_time(&answer))
            .await
            .expect("answer");
        assert_eq!(r.answer, answer);
        assert_eq!(
            r.time_to_first_token,
            Some(plan.time_to_first_token),
            "{text}"
        );
        assert_eq!(r.time_to_last_token, Some(plan.service_time(&answer)));
        let tokens = plan.tokens_for(&answer);
        assert!(tokens > 1, "{text}: {tokens}");
        assert_eq!(r.stream_chunks, Some(tokens));
        assert_eq!(r.completion_tokens, Some(tokens));
        assert_eq!(r.token_source, Some(TokenSource::Reported));
        assert!(
            plan.time_to_first_token >= Duration::from_millis(100),
            "{plan:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn queue_wait_is_part_of_the_answer_time_in_fifo_order() {
    const SLOTS: usize = 2;
    const ARRIVAL_GAP: Duration = Duration::from_millis(5);
    let (_fx, bot, config) = paused_bot(LlmConfig {
        slots: SLOTS as u32,
        ..LlmConfig::default()
    })
    .await;
    let queries: Vec<Query> = (0..7)
        .map(|i| Query::new(format!("f{i}"), QUERIES[i % QUERIES.len()], "llm"))
        .collect();
    let mut answers = Vec::new();
    for q in &queries {
        answers.push(true_answer(&bot, &q.text).await);
    }

    let base = Instant::now();
    let mut tasks = Vec::new();
    for (i, q) in queries.iter().cloned().enumerate() {
        let bot = Arc::clone(&bot);
        let arrival = base + ARRIVAL_GAP * i as u32;
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(arrival).await;
            bot.execute(&q).await
        }));
    }

    // FIFO over SLOTS slots: each arrival takes the slot that frees first.
    let mut free = [Duration::ZERO; SLOTS];
    let mut queued = 0;
    for ((i, task), (q, answer)) in tasks
        .into_iter()
        .enumerate()
        .zip(queries.iter().zip(&answers))
    {
        let plan = plan_llm_query(&config, bot.route(&q.text), &q.id).expect("llm on");
        let arrival = ARRIVAL_GAP * i as u32;
        let slot = free.iter_mut().min().expect("at least one slot");
        let got_slot = arrival.max(*slot);
        *slot = got_slot + plan.service_time(answer);
        let wait = got_slot - arrival;
        if !wait.is_zero() {
            queued += 1;
        }
        let r = task.await.expect("join").expect("answer");
        assert_eq!(
            r.time_to_first_token,
            Some(wait + plan.time_to_first_token),
            "query {i}"
        );
        assert_eq!(
            r.time_to_last_token,
            Some(wait + plan.service_time(answer)),
            "query {i}"
        );
        assert_eq!(r.answer, *answer);
    }
    assert!(queued >= 4, "only {queued} queries waited for a slot");
}

/// Starts `refbot serve` with `flags`; returns the child and its base URL.
pub(crate) async fn start_server(
    db: &std::path::Path,
    flags: &[&str],
) -> (tokio::process::Child, String) {
    let mut child = Command::new(REFBOT)
        .arg("serve")
        .args(flags)
        .args(["--addr", "127.0.0.1:0", "--database"])
        .arg(db)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn refbot serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("read refbot stdout")
        .expect("refbot printed its address");
    let url = line
        .strip_prefix("refbot: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, url)
}

/// The configuration the binary builds from `--llm --llm-time-scale 0.05` and a seed.
fn scaled(db: &std::path::Path) -> RefBotConfig {
    llm_config(
        db,
        LlmConfig {
            time_scale: 0.05,
            ..LlmConfig::default()
        },
    )
}

const SCALED_FLAGS: [&str; 4] = ["--llm", "--llm-time-scale", "0.05", "--seed=42"];

#[tokio::test]
async fn sse_stream_has_the_planned_ttft_and_tokens() {
    let fx = fixture(300).await;
    let config = scaled(&fx.path);
    let local = RefBot::open(config.clone()).await.expect("open refbot");
    let (mut child, base) = start_server(&fx.path, &SCALED_FLAGS).await;
    let TargetSpec::Http(mut http) =
        TargetSpec::parse_flag(&format!("openai+{base}/v1/chat/completions")).expect("flag")
    else {
        panic!("expected an http spec")
    };
    // The default OpenAI body plus the query id, which the plan depends on.
    http.body = Some(serde_json::json!({
        "model": "refbot",
        "messages": [{"role": "user", "content": "{{query}}"}],
        "stream": true,
        "stream_options": {"include_usage": true},
        "metadata": {"query_id": "{{id}}"},
    }));
    let target = HttpTarget::new(http).expect("openai target");
    for (i, text) in QUERIES.iter().enumerate() {
        let q = Query::new(format!("h{i}"), *text, "llm");
        streamed_as_planned(&local, &config, &target, &q).await;
    }
    child.kill().await.expect("stop refbot serve");
}

#[tokio::test]
async fn json_lines_stream_has_the_planned_ttft_and_chunks() {
    let fx = fixture(300).await;
    let config = scaled(&fx.path);
    let local = RefBot::open(config.clone()).await.expect("open refbot");
    let run_dir = tempfile::tempdir().expect("tempdir");
    let db = fx.path.to_string_lossy().into_owned();
    let mut argv = vec![REFBOT, "stdio"];
    argv.extend(SCALED_FLAGS);
    argv.extend(["--database", &db]);
    let target = CommandTarget::new(
        CommandTargetConfig::new(argv.into_iter().map(str::to_owned).collect()),
        run_dir.path(),
    )
    .expect("command target");
    target.initialize().await.expect("start refbot stdio");
    for (i, text) in QUERIES.iter().enumerate() {
        let q = Query::new(format!("j{i}"), *text, "llm");
        let r = streamed_as_planned(&local, &config, &target, &q).await;
        assert_eq!(r.metadata["stream"]["deltas_match_answer"], true);
    }
    target.shutdown().await.expect("shutdown");
    assert_eq!(target.stats().stray_deltas, 0);
    assert_eq!(target.crash_count(), 0);
}

#[tokio::test]
async fn query_endpoint_answers_after_the_stream_with_usage() {
    let fx = fixture(300).await;
    let config = scaled(&fx.path);
    let local = RefBot::open(config.clone()).await.expect("open refbot");
    let (mut child, base) = start_server(&fx.path, &SCALED_FLAGS).await;
    let client =
        perf_targets::HttpTarget::new(perf_targets::HttpTargetConfig::new(format!("{base}/query")))
            .expect("http target");
    let text = QUERIES[1];
    let q = Query::new("json-0", text, "llm");
    let (answer, _) = local.answer(text).await.expect("answer");
    let plan = plan_llm_query(&config, local.route(text), &q.id).expect("llm on");
    let started = std::time::Instant::now();
    let r = client.execute(&q).await.expect("answer");
    let took = started.elapsed();
    assert_eq!(r.answer, answer);
    let service = plan.service_time(&answer);
    assert!(
        took >= service && took <= service + SLACK,
        "{took:?} vs {service:?}"
    );
    assert_eq!(r.completion_tokens, Some(plan.tokens_for(&answer)));
    assert_eq!(r.token_source, Some(TokenSource::Reported));
    assert_eq!(
        r.time_to_first_token, None,
        "a whole answer has no first token"
    );
    child.kill().await.expect("stop refbot serve");
}

#[tokio::test(start_paused = true)]
async fn injected_errors_come_at_the_planned_ttft() {
    let (fx, _, _) = paused_bot(LlmConfig::default()).await;
    let config = RefBotConfig {
        error_rate: 1.0,
        ..llm_config(
            &fx.path,
            LlmConfig {
                slots: 1,
                ..LlmConfig::default()
            },
        )
    };
    let opened = config.clone();
    let bot = off_the_clock(move || async move { RefBot::open(opened).await.expect("open") }).await;
    let q = Query::new("e1", QUERIES[0], "llm");
    let plan = plan_llm_query(&config, bot.route(&q.text), &q.id).expect("llm on");
    let bot = Arc::new(bot);
    let e = execute_ending_at(&bot, q, plan.time_to_first_token)
        .await
        .expect_err("an injected error");
    assert_eq!(e.kind, perf_core::ErrorKind::Bot);
}

#[tokio::test]
async fn bad_llm_flags_name_the_key() {
    let fx = fixture(100).await;
    for (flag, value, key) in [
        ("--llm-slots", "0", "llm.slots"),
        ("--llm-time-scale", "NaN", "llm.time_scale"),
        ("--llm-sigma", "9", "llm.sigma"),
    ] {
        let out = Command::new(REFBOT)
            .args(["answer", flag, value, "--database"])
            .arg(&fx.path)
            .arg("who is the most active user?")
            .output()
            .await
            .expect("run refbot answer");
        assert_eq!(out.status.code(), Some(1), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{flag} {value}: {stderr}");
    }
}

/// Executes `q` on `target` and checks the streamed answer against the plan of the same
/// bot in process: the same answer, time to first token and to the last token within
/// [`SLACK`] after the planned ones, the planned token count reported.
async fn streamed_as_planned(
    local: &RefBot,
    config: &RefBotConfig,
    target: &dyn BotTarget,
    q: &Query,
) -> perf_core::BotResponse {
    let text = q.text.as_str();
    let (answer, _) = local.answer(text).await.expect("answer");
    let plan = plan_llm_query(config, local.route(text), &q.id).expect("llm on");
    let r = target.execute(q).await.expect("streamed answer");
    assert_eq!(r.answer, answer, "{text}");
    let ttft = r.time_to_first_token.expect("a first token");
    let truth = plan.time_to_first_token;
    assert!(
        ttft >= truth && ttft <= truth + SLACK,
        "{text}: {ttft:?} vs {truth:?}"
    );
    let last = r.time_to_last_token.expect("a last token");
    let service = plan.service_time(&answer);
    assert!(
        last >= service && last <= service + SLACK,
        "{text}: {last:?} vs {service:?}"
    );
    let tokens = plan.tokens_for(&answer);
    assert_eq!(r.stream_chunks, Some(tokens), "{text}");
    assert_eq!(r.completion_tokens, Some(tokens), "{text}");
    assert_eq!(r.token_source, Some(TokenSource::Reported));
    r
}
