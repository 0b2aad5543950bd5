//! The orchestrator binary's handling of bad input: exit code 2 and a message naming the
//! file or key, before anything runs.

use std::process::{Command, Output};

#[path = "cli/hostile.rs"]
mod hostile;

fn orchestrator(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
