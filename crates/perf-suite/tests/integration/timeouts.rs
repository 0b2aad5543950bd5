//! Issue #23, item 3: `query_timeout` is each query's deadline everywhere, the first-query
//! check before a run included. A bot that is not ours takes 40 s over its first answer (an
//! LLM bot's cold start) and answers at once after; with `--query-timeout 120` the run goes
//! ahead over HTTP and as a `cmd:` child, and with a deadline shorter than the cold start
//! it stops naming the setting to raise.
//!
//! The 40 s pass on tokio's paused clock: the bot holds its first answer until the test has
//! moved the clock on, so no test waits for them.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perf_suite::{run_suite, Config, SuiteError, SuiteEvent, SuiteOutcome};
use tokio_util::sync::CancellationToken;

use crate::questions::serve_with;

/// A JSON-lines bot (POSIX sh) that knows nothing of the generated server: it holds its
/// first answer until a file `go` appears in the directory it is given (after creating
/// `got` to say the first query arrived), then answers every query at once.
const COLD_START_BOT: &str = r#"dir="$1"
first=1
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":"\([^"]*\)".*/\1/')
  if [ "$first" = 1 ]; then
    first=0
    : > "$dir/got"
    while [ ! -e "$dir/go" ]; do sleep 0.02; done
  fi
  printf '{"id":"%s","answer":"warm now, ask away","agent":"warmup","error":null}\n' "$id"
done
"#;

/// How long the bot takes over its first answer.
const COLD_START: Duration = Duration::from_secs(40);

fn config_for(dir: &Path, target: &str, query_timeout: f64) -> Config {
    let mut c = Config::small(dir);
    c.set_target_flag(target).unwrap();
    c.query_timeout = query_timeout;
    c.query_count = 6;
    c.synthetic_testing.enabled = false;
    c.record_history = false;
    c
}

/// Runs the suite while the bot holds its first answer: once `arrived` says the first
/// query is at the bot, the clock is moved on by `hold` and `release` lets the answer go.
/// Returns the outcome and the notes the run sent while it ran.
async fn run_with_cold_start(
    config: &Config,
    hold: Duration,
    arrived: impl Fn() -> bool,
    release: impl FnOnce(),
) -> (Result<SuiteOutcome, SuiteError>, Vec<String>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let controller = async {
        while !arrived() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::pause();
        tokio::time::advance(hold).await;
        tokio::time::resume();
        release();
    };
    let (outcome, ()) = tokio::join!(
        run_suite(config, Some(tx), CancellationToken::new()),
        controller
    );
    let mut notes = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let SuiteEvent::Note(n) = e {
            notes.push(n);
        }
    }
    (outcome, notes)
}

fn cmd_target(dir: &Path) -> String {
    let bot = dir.join("bot.sh");
    std::fs::write(&bot, COLD_START_BOT).unwrap();
    format!("cmd:sh {} {}", bot.display(), dir.display())
}

/// A run of the `cmd:` cold-start bot in `dir` with `query_timeout` seconds.
async fn run_cmd_cold_start(
    dir: &Path,
    query_timeout: f64,
) -> (Result<SuiteOutcome, SuiteError>, Vec<String>) {
    let config = config_for(dir, &cmd_target(dir), query_timeout);
    run_with_cold_start(
        &config,
        COLD_START,
        || dir.join("got").exists(),
        || std::fs::write(dir.join("go"), "").unwrap(),
    )
    .await
}

/// The run went ahead: every query answered, and the wait was said once.
fn assert_went_ahead(outcome: Result<SuiteOutcome, SuiteError>, notes: &[String]) {
    let outcome = outcome.unwrap_or_else(|e| panic!("the run did not start: {e}"));
    let r = &outcome.result;
    assert_eq!(r.overall.count, 6, "{:?}", r.overall.outcomes);
    assert_eq!(r.overall.failures(), 0, "{:?}", r.overall.outcomes);
    let waited: Vec<&String> = notes
        .iter()
        .filter(|n| n.contains("no answer to the first query yet"))
        .collect();
    assert_eq!(waited.len(), 1, "{notes:?}");
    assert!(
        waited[0].contains("after 10 s; waiting up to query_timeout (120 s)"),
        "{}",
        waited[0]
    );
    // No target limit of its own: no note about one.
    assert!(
        !r.notes.iter().any(|n| n.contains("target.timeout_ms")),
        "{:?}",
        r.notes
    );
}

#[tokio::test]
async fn a_cmd_bot_with_a_40_s_cold_start_runs_with_query_timeout_120() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, notes) = run_cmd_cold_start(dir.path(), 120.0).await;
    assert_went_ahead(outcome, &notes);
}

/// Holds the first request until released; answers every other at once.
struct Hold {
    taken: AtomicBool,
    arrived: AtomicBool,
    go: tokio::sync::Notify,
}

#[tokio::test]
async fn an_http_bot_with_a_40_s_cold_start_runs_with_query_timeout_120() {
    let hold = Arc::new(Hold {
        taken: AtomicBool::new(false),
        arrived: AtomicBool::new(false),
        go: tokio::sync::Notify::new(),
    });
    let held = hold.clone();
    let url = serve_with(move |_body| {
        let hold = held.clone();
        async move {
            if !hold.taken.swap(true, Ordering::SeqCst) {
                hold.arrived.store(true, Ordering::SeqCst);
                hold.go.notified().await;
            }
            (
                "200 OK",
                serde_json::json!({"answer": "warm now, ask away", "agent": "warmup"}),
            )
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), &url, 120.0);
    let (outcome, notes) = run_with_cold_start(
        &config,
        COLD_START,
        || hold.arrived.load(Ordering::SeqCst),
        || hold.go.notify_one(),
    )
    .await;
    assert_went_ahead(outcome, &notes);
}

#[tokio::test]
async fn a_cold_start_longer_than_query_timeout_stops_the_run_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = run_cmd_cold_start(dir.path(), 25.0).await;
    let e = match outcome {
        Ok(o) => panic!("the run went ahead: {:?}", o.result.notes),
        Err(e) => e,
    };
    assert_eq!(e.exit_code(), 2, "{e}");
    let message = e.to_string();
    assert!(
        message.contains("no answer to a first query within 25 s (query_timeout)"),
        "{message}"
    );
    assert!(message.contains("--query-timeout"), "{message}");
    // Nothing ran, so nothing was left behind.
    assert!(
        !dir.path().join("reports").exists()
            || std::fs::read_dir(dir.path().join("reports"))
                .unwrap()
                .next()
                .is_none(),
        "a run directory was left behind"
    );
}

#[tokio::test]
async fn a_target_limit_shorter_than_query_timeout_is_the_deadline_and_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(dir.path(), &cmd_target(dir.path()), 120.0);
    // The first answer is released at once; only the note and the limit are under test.
    std::fs::write(dir.path().join("go"), "").unwrap();
    if let perf_targets::TargetSpec::Command(c) = &mut config.target {
        c.timeout_ms = Some(30_000);
    }
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    assert_eq!(r.overall.failures(), 0, "{:?}", r.overall.outcomes);
    assert!(
        r.notes.iter().any(|n| n.contains(
            "target.timeout_ms (30000 ms) is shorter than query_timeout (120 s), so each query was cut off at 30000 ms"
        )),
        "{:?}",
        r.notes
    );
}
