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
        stderr(&out).contains("parallel_execution.max_concurrent"),
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
