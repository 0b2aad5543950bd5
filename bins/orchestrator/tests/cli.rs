//! The orchestrator binary's handling of bad input: exit code 2 and a message naming the
//! file or key, before anything runs.

mod common;

use std::process::Command;

use common::{free_port, orchestrator, orchestrator_env, stderr};

#[path = "cli/check_target.rs"]
mod check_target;
#[path = "cli/hostile.rs"]
mod hostile;
#[cfg(unix)]
#[path = "cli/live.rs"]
mod live;

#[test]
fn bad_config_files_and_values_exit_2_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("suite.json");
    std::fs::write(&typo, r#"{"parallel_execution": {"max_concurent": 3}}"#).unwrap();
    let out = orchestrator(dir.path(), &["--config", "suite.json", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("suite.json"), "{err}");
    assert!(err.contains("did you mean `max_concurrent`"), "{err}");

    let out = orchestrator(dir.path(), &["--config", "missing.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.json"), "{}", stderr(&out));

    let out = orchestrator(dir.path(), &["--max-concurrent", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        // The flag the user typed is named (it overrides parallel_execution.max_concurrent).
        stderr(&out).contains("--max-concurrent"),
        "{}",
        stderr(&out)
    );

    let out = orchestrator(dir.path(), &["--target", "ftp://bot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--target"), "{}", stderr(&out));

    for value in ["1e300", "18446744073709551616"] {
        let out = orchestrator(dir.path(), &["--query-timeout", value]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("query_timeout"), "{}", stderr(&out));
    }

    // Nothing ran: no database was generated, no report written.
    assert!(!dir.path().join("data").exists());
    assert!(!dir.path().join("reports").exists());
}

#[test]
fn a_file_that_is_not_a_message_database_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.db"), "plain text, not SQLite at all").unwrap();
    let out = orchestrator(dir.path(), &["--database", "notes.db", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("notes.db") && err.contains("not a message database"),
        "{err}"
    );
}

#[test]
fn run_management_on_an_empty_reports_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = orchestrator(dir.path(), &["runs", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no runs"));
    let out = orchestrator(dir.path(), &["baseline", "show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

/// Global flags go before or after the subcommand, as in cargo.
#[test]
fn global_flags_work_before_and_after_a_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let export = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/discord-exports/current/general.json"
    );
    let after = orchestrator(
        dir.path(),
        &["import", "--database", "after.db", "--quiet", export],
    );
    assert_eq!(after.status.code(), Some(0), "{}", stderr(&after));
    assert!(dir.path().join("after.db").is_file());
    let before = orchestrator(dir.path(), &["--database", "before.db", "import", export]);
    assert_eq!(before.status.code(), Some(0), "{}", stderr(&before));
    assert!(dir.path().join("before.db").is_file());
    let runs = orchestrator(dir.path(), &["runs", "list", "--out", "elsewhere"]);
    assert_eq!(runs.status.code(), Some(0), "{}", stderr(&runs));
}

#[test]
fn a_public_live_address_without_live_public_exits_2_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = orchestrator(dir.path(), &["--quiet", "--live", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(err.contains("--live-public"), "{err}");
    // Nothing ran: no database was generated, no report written.
    assert!(!dir.path().join("reports").exists());

    let out = orchestrator(dir.path(), &["--live-linger", "5"]);
    assert_eq!(out.status.code(), Some(2), "--live-linger needs --live");
}

/// Issue #16 D4 and D10 through the binary: counts, special files and database paths
/// exit 2 with a message naming the flag or file and what is wrong.
#[test]
fn hostile_flags_and_paths_exit_2_with_the_real_problem() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["18446744073709551615", "1000000000000"] {
        let out = orchestrator(dir.path(), &["--query-count", n, "--quiet"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--query-count") && err.contains("1000000"),
            "{err}"
        );
    }
    #[cfg(unix)]
    {
        for flag in ["--config", "--scenarios"] {
            let out = orchestrator(dir.path(), &[flag, "/dev/zero", "--quiet"]);
            assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(
                err.contains("/dev/zero") && err.contains("not a regular file"),
                "{flag}: {err}"
            );
        }
        let out = orchestrator(dir.path(), &["--database", "/dev/null", "--quiet"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("/dev/null") && err.contains("device"), "{err}");
        assert!(!err.contains("does not exist"), "{err}");
        let out = orchestrator(dir.path(), &["import", "/dev/null"]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(err.contains("/dev/null") && err.contains("device"), "{err}");
        let out = orchestrator(dir.path(), &["import", "/nonexistent/x.json"]);
        let err = stderr(&out);
        assert_eq!(err.matches("no such file or directory").count(), 1, "{err}");
    }
    let out = orchestrator(dir.path(), &["--database", "/tmp", "--quiet"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("/tmp") && err.contains("a directory"), "{err}");
    assert!(!err.contains("does not exist"), "{err}");
    let bom = dir.path().join("bom.json");
    std::fs::write(&bom, "\u{feff}{\"query_count\": 0}").unwrap();
    let out = orchestrator(dir.path(), &["--config", "bom.json", "--quiet"]);
    // The BOM is skipped: the error is about the value, not the first character.
    assert!(stderr(&out).contains("query_count"), "{}", stderr(&out));
}

/// Issue #16 D6 through the binary: a corrupt baseline or a broken history database is
/// exit 2 before the first query, and nothing is left behind.
#[test]
fn a_corrupt_baseline_or_history_exits_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("baselines")).unwrap();
    std::fs::write(
        dir.path().join("baselines/production_baseline.json"),
        "{\"format_version\": 1, \"na",
    )
    .unwrap();
    let out = orchestrator(dir.path(), &["--quiet"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("production_baseline.json"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("data").exists(), "phase 1 ran");
    assert!(
        !dir.path().join("reports").exists(),
        "a reports directory was left"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/history.db"), "garbage, not sqlite").unwrap();
    let out = orchestrator(dir.path(), &["--quiet"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("history.db") && err.contains("record_history"),
        "{err}"
    );
    assert!(!dir.path().join("data/discord_messages.db").exists());
    assert!(!dir.path().join("reports").exists());

    // A baseline name that cannot be a file name is refused before the run that would
    // make it.
    let dir = tempfile::tempdir().unwrap();
    let long = "b".repeat(300);
    for bad in ["..", "a/b", long.as_str()] {
        let out = orchestrator(dir.path(), &["--quiet", "baseline", "create", bad]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("at most 100 characters"),
            "{}",
            stderr(&out)
        );
    }
    assert!(!dir.path().join("data").exists(), "phase 1 ran");
}

/// Issue #16: a few real invocations with odd flag values (before `runs list`, so nothing
/// long runs) exit 0 or 2, never 101 (a panic).
#[test]
fn odd_flag_values_through_the_real_binary_exit_0_or_2() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--query-count", "18446744073709551616"),
        ("--query-count", "-1"),
        ("--max-concurrent", "99999999999"),
        ("--rate-limit", "1e-6"),
        ("--rate-limit", "nan"),
        ("--query-timeout", "inf"),
        ("--scale", "1e308"),
        ("--target", "cmd:"),
        ("--target", "http://user:pw@"),
        ("--seed", "18446744073709551615"),
        ("--config", "/dev/null"),
        ("--scenarios", "/tmp"),
    ] {
        let arg = format!("{flag}={value}");
        let out = orchestrator(dir.path(), &[&arg, "runs", "list"]);
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 2)),
            "{arg}: {code:?} {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{arg}: {}",
            stderr(&out)
        );
    }
}

/// Issue #16: an import says how many system messages it skipped and why.
#[test]
fn import_says_how_many_system_messages_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let export = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/discord-exports/current/dev-help.json");
    let out = orchestrator(
        dir.path(),
        &["--database", "m.db", "import", export.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("skipped 1 system messages") && stdout.contains("no user content"),
        "{stdout}"
    );
}

/// Issue #16 through the binary: a second Ctrl-C while queries are still in flight stops
/// waiting for them and still writes the report of what finished (it used to exit at once
/// with no report).
#[cfg(unix)]
#[test]
fn a_second_ctrl_c_still_writes_the_report() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    // Answers take seconds and the grace period is an hour: only the second Ctrl-C can end
    // the wait.
    std::fs::write(
        dir.path().join("slow.json"),
        r#"{"fixture": {"messages": 1500}, "refbot": {"latency_scale": 40},
            "grace_period": 3600, "query_timeout": 3600,
            "synthetic_testing": {"enabled": false}}"#,
    )
    .unwrap();
    let port = free_port();
    let live = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["--config", "slow.json", "--quiet", "--live", &live])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let sigint = |pid: u32| {
        let status = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let reports = dir.path().join("reports");
    // The run's queries have begun once the live view counts a finished one (before, the
    // bot answers the first-query check, and Ctrl-C then means "nothing ran").
    let finished_one = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        String::from_utf8_lossy(&hostile::read_live(port, "/metrics", deadline))
            .contains("chatbot_perf_queries_total{")
    };
    let mut started = false;
    for _ in 0..1200 {
        if finished_one() {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started, "the run never finished a query");
    let pid = child.id();
    sigint(pid);
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Ctrl-C again") {
            break;
        }
    }
    assert!(seen.contains("stopping"), "{seen}");
    // The handler listens for the second Ctrl-C right after printing that line.
    std::thread::sleep(std::time::Duration::from_millis(500));
    sigint(pid);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    let all = format!("{seen}{}", rest.join("\n"));
    assert_eq!(status.code(), Some(130), "{all}");
    let runs: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].join("report.json").is_file(), "no report: {all}");
}

/// Issue #28, items 7 and 8: a sweep of a billion users, a scenario path that does not
/// exist, and durations too small to be one are refused before anything runs, naming the
/// flag or key and the range; nothing is created.
#[test]
fn unusable_sizes_and_paths_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    for (args, names, says) in [
        (
            vec!["capacity", "--sweep", "1,1000000000"],
            "--sweep",
            "1000000000 users is out of range",
        ),
        (
            vec!["capacity", "--sweep", "1,100000"],
            "--sweep",
            "from 1 to 10000",
        ),
        (
            vec!["capacity", "--max-time", "1e-300"],
            "--max-time",
            "1 to 604800",
        ),
        (
            vec!["capacity", "--start-rate", "NaN"],
            "--start-rate",
            "out of range",
        ),
        (
            vec!["--scenarios", "/nonexistent/scenarios"],
            "scenario_paths[0]",
            "/nonexistent/scenarios does not exist",
        ),
        (
            vec!["--query-timeout", "1e-300"],
            "query_timeout",
            "less than the 0.001 allowed",
        ),
    ] {
        let mut all = vec!["--quiet"];
        all.extend(args.iter().copied());
        let out = orchestrator(dir.path(), &all);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(names) && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("must be positive"), "{args:?}: {err}");
        assert!(!dir.path().join("data").exists(), "{args:?}: phase 1 ran");
        assert!(
            !dir.path().join("reports").exists(),
            "{args:?}: a run started"
        );
    }
}

/// Issue #28, item 8: Ctrl-C while a bot that never answers is given its first query ends
/// the run at once with 130 and "interrupted", instead of 2 ("no answer to a first
/// query") when the check gives up; the bot is stopped and no run directory is left.
#[cfg(unix)]
#[test]
fn ctrl_c_during_the_first_query_check_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mute.json"),
        r#"{"fixture": {"messages": 1500}, "query_timeout": 60,
            "synthetic_testing": {"enabled": false},
            "target": {"type": "command", "command": ["sh", "-c", "cat > /dev/null"]}}"#,
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["--config", "mute.json", "--quiet"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let reports = dir.path().join("reports");
    let mut started = false;
    for _ in 0..1200 {
        let log = std::fs::read_dir(&reports)
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok().map(|e| e.path().join("bot-stderr.log"))));
        if log.is_some_and(|l| l.exists()) {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started, "the bot was never started");
    // Past the start-up check: the first query is waiting for its answer.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted during the first-query check"),
        "{err}"
    );
    assert!(!err.contains("no answer to a first query"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&reports)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue #28, items 5 and 8: a history location that is not a URL or a path, a shared
/// history nobody answers for and a foreign database are each exit 2 before any load is
/// sent (no database generated, no run directory), and no password reaches the terminal
/// or the working directory.
#[test]
fn bad_history_locations_exit_2_before_any_load() {
    let dir = tempfile::tempdir().unwrap();
    let kv = "host=127.0.0.1 password=s3cret-kv-pw dbname=perf";
    let out = orchestrator(dir.path(), &["--quiet", "--history-url", kv]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--history-url") && err.contains("key-value"),
        "{err}"
    );
    assert!(!err.contains("s3cret") && !String::from_utf8_lossy(&out.stdout).contains("s3cret"));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "files left: {left:?}");

    // Nothing listens on a port that was free a moment ago.
    let port = free_port();
    let url = format!("postgres://perf-user@127.0.0.1:{port}/perf?sslmode=disable");
    let out = orchestrator(dir.path(), &["--quiet", "--history-url", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("postgres://[redacted]@127.0.0.1:{port}/perf")),
        "{err}"
    );
    assert!(
        err.contains("cannot connect") && err.contains("record_history"),
        "{err}"
    );
    assert!(!err.contains("perf-user"), "{err}");
    assert!(!dir.path().join("data").exists(), "phase 1 ran");
    assert!(
        !dir.path().join("reports").exists(),
        "a run directory was made"
    );

    // Someone else's SQLite database.
    let app = dir.path().join("app.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=rwc", app.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    });
    let out = orchestrator(dir.path(), &["--quiet", "--history-url", "app.db"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("app.db") && err.contains("`orders`"), "{err}");
    assert!(!dir.path().join("data").exists(), "phase 1 ran");
    assert!(
        !dir.path().join("reports").exists(),
        "a run directory was made"
    );
}

/// Issue #22, item 9: a subcommand's help lists what it reads, not a run's shard and live
/// flags; the run's own help still has them, and a run flag after a subcommand that does
/// not read it is refused rather than silently ignored.
#[test]
fn each_subcommands_help_shows_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = orchestrator(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let run = help(&["--help"]);
    for flag in ["--shard", "--live-linger", "--start-at", "--verbose"] {
        assert!(run.contains(flag), "{flag}: {run}");
    }
    for sub in ["capacity", "history", "check-target", "merge"] {
        let text = help(&[sub, "--help"]);
        for flag in [
            "--shard",
            "--live-linger",
            "--live-public",
            "--start-at",
            "--no-synthetic",
            "--no-parallel",
        ] {
            assert!(!text.contains(flag), "{sub} --help lists {flag}: {text}");
        }
    }
    let capacity = help(&["capacity", "--help"]);
    assert!(capacity.contains("--max-time"), "{capacity}");
    let out = orchestrator(dir.path(), &["capacity", "--shard", "1/2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard"));
}
