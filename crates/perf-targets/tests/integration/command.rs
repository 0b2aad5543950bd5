//! CommandTarget against real child processes (POSIX sh scripts).

use std::sync::Arc;
use std::time::Duration;

use perf_core::{BotTarget, ErrorKind, TokenSource};
use perf_targets::{
    open_target, CommandStats, CommandTarget, CommandTargetConfig, Target, TargetSpec,
};

use crate::support::{query, script};

/// Extracts the id from a request line (our encoder writes `{"id":"...",`).
const READ_ID: &str = r#"id=$(printf '%s' "$line" | sed 's/^{"id":"\([^"]*\)".*/\1/')"#;

fn echo_bot() -> String {
    format!(
        "while IFS= read -r line; do\n  {READ_ID}\n  printf '{{\"id\":\"%s\",\"answer\":\"ok %s\",\"agent\":\"echo\",\"error\":null}}\\n' \"$id\" \"$id\"\ndone\n"
    )
}

fn target(
    dir: &std::path::Path,
    name: &str,
    body: &str,
    edit: impl FnOnce(&mut CommandTargetConfig),
) -> anyhow::Result<CommandTarget> {
    let path = script(dir, name, body)?;
    // Run through `sh` rather than exec'ing the fresh file: another test thread forking at
    // the moment the file was written can hold its write handle open, and exec then fails
    // with "Text file busy" (ETXTBSY).
    let mut config =
        CommandTargetConfig::new(vec!["sh".to_owned(), path.to_string_lossy().into_owned()]);
    config.restart_backoff_ms = 10;
    edit(&mut config);
    Ok(CommandTarget::new(config, &dir.join("run"))?)
}

#[tokio::test]
async fn answers_many_queries_in_flight() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let t = Arc::new(target(dir.path(), "echo.sh", &echo_bot(), |_| {})?);
    t.initialize().await?;
    let pid = t.process_id();
    assert!(pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists()));
    let mut tasks = Vec::new();
    for i in 0..50 {
        let t = Arc::clone(&t);
        tasks.push(tokio::spawn(async move {
            t.execute(&query(&format!("q{i}"), "hello \"there\"")).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await??;
        assert_eq!(r.answer, format!("ok q{i}"));
        assert_eq!(r.agents, ["echo"]);
        assert_eq!(r.metadata["process"]["crashes"], 0);
    }
    assert_eq!(t.describe().transport, perf_core::Transport::Command);
    t.shutdown().await?;
    assert_eq!(t.crash_count(), 0);
    assert_eq!(t.process_id(), None);
    Ok(())
}

#[tokio::test]
async fn answers_out_of_order_and_ignores_junk() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Reads two queries, then answers the second first, with junk around the answers.
    let body = format!(
        "IFS= read -r line; {READ_ID}; first=$id\nIFS= read -r line; {READ_ID}; second=$id\n\
         echo 'starting up...'\n\
         printf '{{\"id\":\"nobody\",\"answer\":\"x\"}}\\n'\n\
         printf '{{\"id\":\"%s\",\"answer\":\"ans-%s\",\"agent\":null,\"error\":null}}\\n' \"$second\" \"$second\"\n\
         printf '{{\"id\":\"%s\",\"answer\":\"ans-%s\",\"agent\":null,\"error\":null}}\\n' \"$first\" \"$first\"\n\
         cat > /dev/null\n"
    );
    let t = Arc::new(target(dir.path(), "ooo.sh", &body, |_| {})?);
    t.initialize().await?;
    let a = {
        let t = Arc::clone(&t);
        tokio::spawn(async move { t.execute(&query("A", "1")).await })
    };
    let b = t.execute(&query("B", "2")).await?;
    let a = a.await??;
    // Whichever line came second was answered first; each answer still finds its query.
    assert_eq!(a.answer, "ans-A");
    assert_eq!(b.answer, "ans-B");
    let stats = t.stats();
    assert_eq!(stats.invalid_lines, 1);
    assert_eq!(stats.unknown_ids, 1);
    t.shutdown().await?;
    assert_eq!(t.crash_count(), 0, "a stop at shutdown is not a crash");
    Ok(())
}

#[tokio::test]
async fn bot_errors_and_bad_lines_fail_their_query() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let body = format!(
        "IFS= read -r line; {READ_ID}\nprintf '{{\"id\":\"%s\",\"answer\":null,\"agent\":null,\"error\":\"no database\"}}\\n' \"$id\"\n\
         IFS= read -r line; {READ_ID}\nprintf '{{\"id\":\"%s\",\"answer\":42}}\\n' \"$id\"\ncat > /dev/null\n"
    );
    let t = target(dir.path(), "err.sh", &body, |_| {})?;
    let e = t.execute(&query("a", "x")).await.err();
    assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::Bot));
    assert_eq!(e.map(|e| e.message).as_deref(), Some("no database"));
    let e = t.execute(&query("b", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::InvalidResponse));
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_crash_mid_run_fails_in_flight_queries_and_restarts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Answers three queries; on the fourth it dies with status 1.
    let body = format!(
        "n=0\nwhile IFS= read -r line; do\n  n=$((n+1))\n  if [ $n -gt 3 ]; then echo 'fatal: out of memory' >&2; exit 1; fi\n  {READ_ID}\n  printf '{{\"id\":\"%s\",\"answer\":\"ok\",\"agent\":\"a\",\"error\":null}}\\n' \"$id\"\ndone\n"
    );
    let t = target(dir.path(), "crashy.sh", &body, |_| {})?;
    for i in 0..3 {
        assert_eq!(t.execute(&query(&format!("q{i}"), "x")).await?.answer, "ok");
    }
    let first_pid = t.process_id();
    let e = t.execute(&query("q3", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Crashed));
    assert_eq!(t.crash_count(), 1);
    // The run goes on with a restarted process.
    let r = t.execute(&query("q4", "x")).await?;
    assert_eq!(r.answer, "ok");
    assert_eq!(r.metadata["process"]["start"], 2);
    assert_eq!(r.metadata["process"]["crashes"], 1);
    assert_ne!(t.process_id(), first_pid);
    let stats = t.stats();
    assert_eq!(
        (stats.starts, stats.crashes, stats.crashed_queries),
        (2, 1, 1)
    );
    assert_eq!(stats.restarts(), 1);
    assert!(stats.notes()[0].contains("crashed 1 time"));
    t.shutdown().await?;
    let log = std::fs::read_to_string(t.stderr_path())?;
    assert!(log.contains("fatal: out of memory"), "{log}");
    assert_eq!(log.matches("starting bot process").count(), 2, "{log}");
    Ok(())
}

#[tokio::test]
async fn restarts_stop_at_the_limit() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let t = target(dir.path(), "dies.sh", "read -r line\nexit 3\n", |c| {
        c.max_restarts = 1
    })?;
    for _ in 0..2 {
        let e = t.execute(&query("q", "x")).await.err();
        assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Crashed));
    }
    let e = t.execute(&query("q", "x")).await.err();
    assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::Crashed));
    assert!(e
        .map(|e| e.message)
        .unwrap_or_default()
        .contains("restart limit"));
    assert_eq!(t.stats().starts, 2);
    assert_eq!(t.crash_count(), 2);
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn silent_bots_time_out_and_stubborn_ones_are_killed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Ignores its input and does not exit when stdin closes.
    let t = target(
        dir.path(),
        "stuck.sh",
        "trap '' TERM\nwhile true; do sleep 1; done\n",
        |c| {
            c.timeout_ms = Some(200);
            c.shutdown_grace_ms = 100;
        },
    )?;
    let e = t.execute(&query("q", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Timeout));
    let pid = t.process_id().unwrap_or(0);
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    t.shutdown().await?;
    // Reaped: no zombie entry either.
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(t.crash_count(), 0);
    let e = t.execute(&query("q", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Connect));
    Ok(())
}

#[tokio::test]
async fn a_missing_program_is_a_connect_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = CommandTargetConfig::new(vec!["/nonexistent/bot-binary".to_owned()]);
    let t = CommandTarget::new(config, dir.path())?;
    assert_eq!(
        t.initialize().await.err().map(|e| e.kind),
        Some(ErrorKind::Connect)
    );
    Ok(())
}

#[tokio::test]
async fn opens_from_a_flag_value() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = script(dir.path(), "echo.sh", &echo_bot())?;
    let spec = TargetSpec::parse_flag(&format!("cmd:sh '{}'", path.display()))?;
    let target = open_target(&spec, &dir.path().join("run"))?;
    assert!(matches!(target, Target::Command(_)));
    let bot = target.bot();
    assert_eq!(bot.execute(&query("z", "x")).await?.answer, "ok z");
    assert!(target.notes().is_empty());
    bot.shutdown().await?;
    assert!(dir.path().join("run/bot-stderr.log").exists());
    Ok(())
}

#[tokio::test]
async fn a_dropped_query_leaves_the_protocol_intact() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Answers in order; a query containing "slow" takes a second.
    let body = format!(
        "while IFS= read -r line; do\n  {READ_ID}\n  case \"$line\" in *slow*) sleep 1;; esac\n  printf '{{\"id\":\"%s\",\"answer\":\"ok %s\"}}\\n' \"$id\" \"$id\"\ndone\n"
    );
    let t = target(dir.path(), "slow.sh", &body, |_| {})?;
    // What the runner does on its own timeout: drop the future.
    let dropped =
        tokio::time::timeout(Duration::from_millis(50), t.execute(&query("s", "slow"))).await;
    assert!(dropped.is_err());
    let r = t.execute(&query("f", "fast")).await?;
    assert_eq!(r.answer, "ok f");
    assert_eq!(
        t.stats().unknown_ids,
        1,
        "the late answer had no query waiting"
    );
    assert_eq!(t.crash_count(), 0);
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_bot_that_dies_at_startup_fails_initialize_with_its_stderr() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let t = target(
        dir.path(),
        "broken.sh",
        "echo 'ImportError: no module named discord' >&2\nexit 2\n",
        |c| c.startup_check_ms = 10_000,
    )?;
    let e = t.initialize().await.err();
    assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::Connect));
    let message = e.map(|e| e.message).unwrap_or_default();
    assert!(message.contains("no module named discord"), "{message}");
    t.shutdown().await?;
    Ok(())
}

/// A script that answers its k-th request (from 1) with the k-th of `replies`; `%s` in a
/// reply is the request's id, and a reply line may be several commands.
fn scripted_bot(replies: &[&str]) -> String {
    let mut body = String::from("n=0\nwhile IFS= read -r line; do\n  n=$((n+1))\n  ");
    body.push_str(READ_ID);
    body.push_str("\n  case $n in\n");
    for (k, reply) in replies.iter().enumerate() {
        body.push_str(&format!("    {}) {reply};;\n", k + 1));
    }
    body.push_str("  esac\ndone\n");
    body
}

/// `printf` of one JSON line; `%s` is the id.
fn say(json: &str) -> String {
    format!("printf '%s\\n' \"$(printf '{json}' \"$id\")\"")
}

/// Generous slack for a real child process on a busy machine; never the bot's own time.
const SLACK: Duration = Duration::from_millis(1500);

#[tokio::test]
async fn streamed_deltas_give_ttft_chunks_and_tokens() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let first = [
        "sleep 0.2".to_owned(),
        say(r#"{"id":"%s","delta":"Hel"}"#),
        say(r#"{"id":"%s","delta":""}"#),
        "sleep 0.1".to_owned(),
        say(r#"{"id":"%s","delta":"lo"}"#),
        say(r#"{"id":"%s","answer":"Hello","agent":"a","tokens":7}"#),
    ]
    .join("; ");
    // No answer text and no count: the deltas are the answer and the count.
    let second = [
        say(r#"{"id":"%s","delta":"a "}"#),
        say(r#"{"id":"%s","delta":"b "}"#),
        say(r#"{"id":"%s","delta":"c"}"#),
        say(r#"{"id":"%s","agent":"a"}"#),
    ]
    .join("; ");
    let third = say(r#"{"id":"%s","answer":"x","usage":{"completion_tokens":4}}"#);
    let t = target(
        dir.path(),
        "stream.sh",
        &scripted_bot(&[&first, &second, &third]),
        |_| {},
    )?;
    t.initialize().await?;

    let r = t.execute(&query("s1", "hi")).await?;
    assert_eq!(r.answer, "Hello");
    let ttft = r.time_to_first_token.expect("a first delta");
    let last = r.time_to_last_token.expect("a last delta");
    // The bot slept 200 ms before its first delta and 100 ms more before the last.
    assert!(
        ttft >= Duration::from_millis(200) && ttft <= Duration::from_millis(200) + SLACK,
        "{ttft:?}"
    );
    assert!(
        last >= ttft + Duration::from_millis(100) && last <= Duration::from_millis(300) + SLACK,
        "{last:?}"
    );
    assert_eq!(r.stream_chunks, Some(2), "the empty delta is no text");
    assert_eq!(r.completion_tokens, Some(7));
    assert_eq!(r.token_source, Some(TokenSource::Reported));
    assert_eq!(r.metadata["stream"]["deltas_match_answer"], true);

    let r = t.execute(&query("s2", "hi")).await?;
    assert_eq!(r.answer, "a b c");
    assert_eq!(r.stream_chunks, Some(3));
    assert_eq!(r.completion_tokens, Some(3));
    assert_eq!(r.token_source, Some(TokenSource::CountedChunks));
    assert!(r.time_to_first_token <= r.time_to_last_token);

    // A whole answer: a reported count, no streaming figures.
    let r = t.execute(&query("s3", "hi")).await?;
    assert_eq!(r.completion_tokens, Some(4));
    assert_eq!(r.token_source, Some(TokenSource::Reported));
    assert_eq!((r.time_to_first_token, r.stream_chunks), (None, None));
    t.shutdown().await?;
    assert_eq!(
        t.stats(),
        CommandStats {
            starts: 1,
            ..CommandStats::default()
        }
    );
    Ok(())
}

#[tokio::test]
async fn the_answer_line_wins_and_late_deltas_are_ignored() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let differs = [
        say(r#"{"id":"%s","delta":"foo"}"#),
        say(r#"{"id":"%s","delta":"bar"}"#),
        say(r#"{"id":"%s","answer":"baz"}"#),
        // After the answer: for a finished id.
        say(r#"{"id":"%s","delta":"late"}"#),
    ]
    .join("; ");
    let plain = say(r#"{"id":"%s","answer":"plain"}"#);
    // The retry of query `a` comes with a fresh wire id; a delta for the old id is stray.
    let retry = [
        r#"printf '{"id":"a","delta":"stale"}\n'"#.to_owned(),
        say(r#"{"id":"%s","answer":"again"}"#),
    ]
    .join("; ");
    let t = target(
        dir.path(),
        "late.sh",
        &scripted_bot(&[&differs, &plain, &retry]),
        |_| {},
    )?;
    let r = t.execute(&query("a", "x")).await?;
    assert_eq!(r.answer, "baz");
    assert_eq!(r.stream_chunks, Some(2));
    assert_eq!(r.metadata["stream"]["deltas_match_answer"], false);
    let r = t.execute(&query("b", "x")).await?;
    assert_eq!(r.answer, "plain");
    assert_eq!(
        r.stream_chunks, None,
        "the late delta did not land on the next query"
    );
    let r = t.execute(&query("a", "x")).await?;
    assert_eq!(r.answer, "again");
    assert_eq!(
        r.stream_chunks, None,
        "the stale delta did not land on the retry"
    );
    let stats = t.stats();
    assert_eq!(stats.stray_deltas, 2);
    assert_eq!(
        (stats.invalid_lines, stats.unknown_ids, stats.crashes),
        (0, 0, 0)
    );
    assert!(
        stats.notes().iter().any(|n| n.contains("2 delta line(s)")),
        "{:?}",
        stats.notes()
    );
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn bad_token_counts_and_deltas_are_invalid_responses() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bad = [
        r#"{"id":"%s","answer":"x","tokens":-3}"#,
        r#"{"id":"%s","answer":"x","tokens":1e30}"#,
        r#"{"id":"%s","answer":"x","tokens":"12"}"#,
        r#"{"id":"%s","answer":"x","tokens":2.5}"#,
        r#"{"id":"%s","answer":"x","tokens":10000001}"#,
        r#"{"id":"%s","answer":"x","usage":{"completion_tokens":-1}}"#,
        r#"{"id":"%s","answer":"x","usage":"many"}"#,
        r#"{"id":"%s","delta":5}"#,
    ];
    let mut replies: Vec<String> = bad.iter().map(|b| say(b)).collect();
    replies.push(say(r#"{"id":"%s","delta":"ok"}"#) + "; " + &say(r#"{"id":"%s","tokens":1}"#));
    let replies: Vec<&str> = replies.iter().map(String::as_str).collect();
    let t = target(dir.path(), "bad.sh", &scripted_bot(&replies), |_| {})?;
    for (i, line) in bad.iter().enumerate() {
        let e = t.execute(&query(&format!("b{i}"), "x")).await.err();
        assert_eq!(
            e.as_ref().map(|e| e.kind),
            Some(ErrorKind::InvalidResponse),
            "{line}"
        );
    }
    // The protocol is intact afterwards.
    let r = t.execute(&query("good", "x")).await?;
    assert_eq!(r.answer, "ok");
    assert_eq!(r.completion_tokens, Some(1));
    assert_eq!(t.crash_count(), 0);
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_stream_that_stops_halfway_times_out_or_crashes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let silent = say(r#"{"id":"%s","delta":"par"}"#) + "; sleep 30";
    let t = target(dir.path(), "silent.sh", &scripted_bot(&[&silent]), |c| {
        c.timeout_ms = Some(300);
        c.shutdown_grace_ms = 100;
    })?;
    let e = t.execute(&query("q", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Timeout));
    t.shutdown().await?;

    let dies = say(r#"{"id":"%s","delta":"par"}"#) + "; exit 1";
    let t = target(dir.path(), "dies.sh", &scripted_bot(&[&dies]), |_| {})?;
    let e = t.execute(&query("q", "x")).await.err();
    assert_eq!(e.map(|e| e.kind), Some(ErrorKind::Crashed));
    assert_eq!(t.crash_count(), 1);
    t.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn streamed_text_is_kept_only_up_to_the_line_limit() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let deltas = vec![say(r#"{"id":"%s","delta":"0123456789abcdef"}"#); 10].join("; ");
    let without = deltas.clone() + "; " + &say(r#"{"id":"%s"}"#);
    let with = deltas + "; " + &say(r#"{"id":"%s","answer":"short"}"#);
    let t = target(
        dir.path(),
        "long.sh",
        &scripted_bot(&[&without, &with]),
        |c| {
            c.max_line_bytes = 64;
        },
    )?;
    let e = t.execute(&query("q1", "x")).await.err();
    assert_eq!(e.as_ref().map(|e| e.kind), Some(ErrorKind::InvalidResponse));
    assert!(e
        .map(|e| e.message)
        .unwrap_or_default()
        .contains("max_line_bytes"));
    let r = t.execute(&query("q2", "x")).await?;
    assert_eq!(r.answer, "short");
    assert_eq!(r.stream_chunks, Some(10));
    assert!(r.metadata["stream"]["deltas_match_answer"].is_null());
    t.shutdown().await?;
    Ok(())
}

/// Whether process `pid` still runs (a zombie waiting for its reaper does not count).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `123 (sleep) S ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// D7: a bot started through a shell that forks a worker: after shutdown the worker is
/// gone too (the whole process group is stopped), also when it ignores SIGTERM.
#[tokio::test]
async fn workers_forked_by_the_bot_are_stopped_with_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for (name, worker) in [
        ("polite", "sleep 1000 &"),
        (
            "stubborn",
            "sh -c 'trap \"\" TERM; while :; do sleep 1; done' &",
        ),
    ] {
        let pid_file = dir.path().join(format!("{name}.pid"));
        let body = format!(
            "{worker}\necho $! > '{}'\n{}",
            pid_file.display(),
            echo_bot()
        );
        let t = target(dir.path(), &format!("{name}.sh"), &body, |c| {
            c.shutdown_grace_ms = 300;
        })?;
        t.initialize().await?;
        let r = t.execute(&query("q1", "hi")).await?;
        assert_eq!(r.answer, "ok q1");
        let worker: u32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
        assert!(running(worker), "{name}: the worker runs during the run");
        t.shutdown().await?;
        // SIGKILL is delivered before shutdown returns; the kernel may take a moment to
        // tear the process down, so look a few times (not a timing assertion).
        let mut gone = false;
        for _ in 0..100 {
            if !running(worker) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "{name}: worker {worker} outlived the run");
    }
    Ok(())
}

/// D5: a bot writing megabytes to stderr leaves a log of at most 1 MiB, with a note
/// saying how much was dropped; secret env values are not in it.
#[tokio::test]
async fn the_stderr_log_is_capped_and_redacted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // 4 MiB of stderr in 64 KiB lines without newline-free tricks, plus the secret.
    let body = format!(
        "echo \"key is $BOT_API_KEY\" >&2\n\
         head -c 4194304 /dev/zero | tr '\\0' 'e' | fold -w 65536 >&2\n\
         printf 'no newline %s' \"$BOT_API_KEY\" >&2\n{}",
        echo_bot()
    );
    let t = target(dir.path(), "noisy.sh", &body, |c| {
        c.env
            .insert("BOT_API_KEY".into(), "sk-stderr-0123456789".into());
    })?;
    t.initialize().await?;
    assert_eq!(t.execute(&query("q1", "hi")).await?.answer, "ok q1");
    t.shutdown().await?;
    let log = std::fs::read_to_string(t.stderr_path())?;
    assert!(
        (log.len() as u64) < perf_targets::MAX_STDERR_LOG_BYTES + 4096,
        "{} bytes",
        log.len()
    );
    assert!(log.contains("key is [redacted]"), "{}", &log[..200]);
    assert!(!log.contains("sk-stderr"));
    let note = log
        .lines()
        .find(|l| l.contains("bytes of this process's stderr dropped"))
        .unwrap_or_default();
    let dropped: u64 = note
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // Everything written minus what was kept: at least 3 MiB of the 4 went.
    assert!(dropped >= 3 * 1024 * 1024, "{note}");
    Ok(())
}

/// A JSON line with a lone surrogate escape (Python's json writes them) is an answer with
/// U+FFFD, not garbage that waits for the timeout.
#[tokio::test]
async fn a_lone_surrogate_escape_is_read_as_a_replacement_character() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let body = format!(
        "while IFS= read -r line; do\n  {READ_ID}\n  printf '{{\"id\":\"%s\",\"answer\":\"half \\\\ud800 pair \\\\ud83e\\\\udd80\",\"agent\":\"a\\\\udc00\"}}\\n' \"$id\"\ndone\n"
    );
    let t = target(dir.path(), "surrogate.sh", &body, |c| {
        c.timeout_ms = Some(60_000)
    })?;
    t.initialize().await?;
    let r = t.execute(&query("q1", "hi")).await?;
    assert_eq!(r.answer, "half \u{fffd} pair 🦀");
    assert_eq!(r.agents, ["a\u{fffd}"]);
    assert_eq!(t.stats().invalid_lines, 0);
    t.shutdown().await?;
    Ok(())
}

/// Issue #28, item 8: `stderr_log` stays inside the run directory: `..` and absolute paths
/// are refused naming the key, before anything is created; a nested relative path works.
#[tokio::test]
async fn the_stderr_log_stays_inside_the_run_directory() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let outside = dir.path().join("outside.log");
    for bad in [
        "../escaped.log".to_owned(),
        "logs/../../escaped.log".to_owned(),
        outside.display().to_string(),
        String::new(),
    ] {
        let err = target(dir.path(), "echo.sh", &echo_bot(), |c| {
            c.stderr_log = Some(bad.clone().into());
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("target.stderr_log"), "{bad}: {err}");
        assert!(err.contains("inside the run directory"), "{bad}: {err}");
    }
    assert!(!dir.path().join("escaped.log").exists());
    assert!(!outside.exists());
    let t = target(dir.path(), "echo.sh", &echo_bot(), |c| {
        c.stderr_log = Some("logs/bot.log".into());
    })?;
    assert_eq!(t.stderr_path(), dir.path().join("run/logs/bot.log"));
    t.initialize().await?;
    assert_eq!(t.execute(&query("q1", "hi")).await?.answer, "ok q1");
    t.shutdown().await?;
    assert!(t.stderr_path().exists());
    Ok(())
}

/// Whether process `pid` exists and has not exited (a zombie has).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// Issue #28, item 8: a process the bot starts in a session of its own (`setsid`), out of
/// reach of the group's signals, is stopped at shutdown too.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_grandchild_in_its_own_session_is_stopped_at_shutdown() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pid_file = dir.path().join("escaped.pid");
    let body = format!(
        "setsid sleep 300 &\necho $! > '{}'\n{}",
        pid_file.display(),
        echo_bot()
    );
    let t = target(dir.path(), "escape.sh", &body, |c| {
        c.shutdown_grace_ms = 500
    })?;
    t.initialize().await?;
    assert_eq!(t.execute(&query("q1", "hi")).await?.answer, "ok q1");
    let pid: u32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
    assert!(alive(pid), "the escaped sleep {pid} never ran");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let bot = t.process_id().unwrap_or(0);
    assert!(
        !stat.contains(&format!(" {bot} {bot} ")),
        "not escaped: {stat}"
    );
    t.shutdown().await?;
    for _ in 0..100 {
        if !alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !alive(pid),
        "the grandchild {pid} in its own session outlived the run"
    );
    Ok(())
}
