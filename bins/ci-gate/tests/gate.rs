//! The binary's smoke test: arguments reach the gate and its decisions become exit codes
//! and reasons. The gate's own behaviour is tested in-process in perf-suite
//! (`tests/integration/gate.rs`).

use std::process::{Command, Output};

fn gate(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ci-gate"))
        .args(args)
        .arg("--out")
        .arg(dir.join("cicd_results"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn setup_problems_exit_2_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"query_count": 5,"#).unwrap();
    let out = gate(dir.path(), &["--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));

    for timeout in ["1e300", "18446744073709551616", "0", "nan"] {
        let out = gate(dir.path(), &["--timeout", timeout]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--timeout {timeout}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--timeout"), "{}", stderr(&out));
    }
    // Issue #28, item 8: a positive value too small to be a budget is said as such, and a
    // capacity objective that is not a number is refused before anything runs.
    let out = gate(dir.path(), &["--timeout", "1e-300"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("give 1 to 604800 seconds"),
        "{}",
        stderr(&out)
    );
    for min in ["NaN", "inf", "-3", "0"] {
        let arg = format!("--min-capacity={min}");
        let out = gate(dir.path(), &[&arg]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "--min-capacity {min}: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("--min-capacity") && stderr(&out).contains("out of range"),
            "--min-capacity {min}: {}",
            stderr(&out)
        );
    }
    assert!(!dir.path().join("cicd_results").exists());

    let ok = dir.path().join("ok.json");
    let config = format!(
        r#"{{"database_path": {:?}, "fixture": {{"messages": 1500}}}}"#,
        dir.path().join("m.db")
    );
    std::fs::write(&ok, config).unwrap();
    let out = gate(
        dir.path(),
        &[
            "--config",
            ok.to_str().unwrap(),
            "--target",
            "http://127.0.0.1:9/query",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ci-gate: could not run"),
        "{}",
        stderr(&out)
    );
}

/// Issue #16 D4 and D6 through the binary: an absurd query count is refused naming the
/// flag, and a corrupt baseline is found before any work.
#[test]
fn hostile_counts_and_a_corrupt_baseline_exit_2_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = gate(dir.path(), &["--max-queries", "1000000000000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-queries"), "{}", stderr(&out));

    let baselines = dir.path().join("baselines");
    std::fs::create_dir_all(&baselines).unwrap();
    std::fs::write(baselines.join("g.json"), "not json").unwrap();
    let cfg = dir.path().join("c.json");
    let config = format!(
        r#"{{"database_path": {:?}, "performance_baselines": {{"baselines_dir": {:?}}}}}"#,
        dir.path().join("m.db"),
        baselines
    );
    std::fs::write(&cfg, config).unwrap();
    let out = gate(
        dir.path(),
        &["--config", cfg.to_str().unwrap(), "--baseline", "g"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("g.json"), "{}", stderr(&out));
    assert!(
        !dir.path().join("m.db").exists(),
        "the gate worked before failing"
    );
}

/// The live view through the binary: served while the gate runs; a public address is
/// refused without `--live-public`, before anything runs.
#[test]
fn live_serves_during_the_gate_and_a_public_address_needs_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("live.json");
    let text = format!(
        r#"{{"database_path": {:?}, "fixture": {{"messages": 1500}},
            "performance_baselines": {{"baselines_dir": {:?}}}}}"#,
        dir.path().join("m.db"),
        dir.path().join("baselines")
    );
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    let out = gate(dir.path(), &["--config", config, "--live", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--live-public"), "{}", stderr(&out));
    assert!(
        !dir.path().join("cicd_results").exists(),
        "refused before running"
    );

    let out = gate(
        dir.path(),
        &[
            "--config",
            config,
            "--live",
            "127.0.0.1:0",
            "--max-queries",
            "40",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("live view: http://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("ci-gate: passed: deploy"),
        "{}",
        stderr(&out)
    );
}

/// Issue #16 D8 through the binary: SIGTERM (a cancelled CI job) mid-run stops the gate
/// with the partial report written, exit 130 and the reason "interrupted", not the budget.
#[cfg(unix)]
#[test]
fn sigterm_mid_run_writes_the_partial_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("slow.json");
    // Answers take seconds, so the run is still going when the signal comes.
    let text = format!(
        r#"{{"database_path": {:?}, "fixture": {{"messages": 1500}},
            "refbot": {{"latency_scale": 40}},
            "performance_baselines": {{"baselines_dir": {:?}}}}}"#,
        dir.path().join("m.db"),
        dir.path().join("baselines")
    );
    std::fs::write(&config, text).unwrap();
    let out_dir = dir.path().join("cicd_results");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let live = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_ci-gate"))
        .args(["--config", config.to_str().unwrap(), "--max-queries", "60"])
        .args(["--live", &live])
        .arg("--out")
        .arg(&out_dir)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run's queries have begun once the live view counts a finished one (before, the
    // bot answers the first-query check, and a signal then means "nothing ran").
    let finished_one = || {
        use std::io::{Read as _, Write as _};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body.contains("chatbot_perf_queries_total{")
    };
    let mut started = false;
    for _ in 0..1200 {
        if finished_one() {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(started, "the gate never finished a query");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted") && !err.contains("budget"),
        "{err}"
    );
    let run_dirs: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.is_symlink())
        .collect();
    assert_eq!(run_dirs.len(), 1, "{run_dirs:?}");
    assert!(
        run_dirs[0].join("report.json").is_file(),
        "no partial report"
    );
}

/// `--history-url` is checked before the gate runs: a password in it is a setup problem
/// (exit 2) named by the flag, and the password is not repeated.
#[test]
fn a_password_in_history_url_is_refused_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = gate(
        dir.path(),
        &[
            "--history-url",
            "postgres://ci:hunter2@db.example/perf",
            "--target",
            "http://127.0.0.1:9/query",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("--history-url") && e.contains("PGPASSWORD"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
    assert!(!dir.path().join("cicd_results").exists(), "nothing ran");
}

#[test]
fn two_shards_gate_as_one_merge_and_a_missing_shard_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("suite.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "database_path": dir.path().join("messages.db"),
            "fixture": {"messages": 1500},
            "refbot": {"latency_scale": 0.0},
            "synthetic_testing": {"scale": 0.005},
            "performance_baselines": {"baselines_dir": dir.path().join("baselines")}
        })
        .to_string(),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    for shard in ["1/2", "2/2"] {
        let out = gate(
            dir.path(),
            &["--config", config, "--max-queries", "24", "--shard", shard],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "shard {shard}: {}",
            stderr(&out)
        );
    }
    let results = dir.path().join("cicd_results");
    let runs: Vec<std::path::PathBuf> = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 2);

    let out = gate(
        dir.path(),
        &["--config", config, "--merge", results.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("PASS critical_paths"), "{err}");
    assert!(err.contains("PASS edge_case_handling"), "{err}");
    let merged = std::fs::read_dir(&results)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("-merged-2"))
        .expect("the merge's report directory");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["per_scenario"]["standard"]["count"], 24);
    assert_eq!(report["merge"]["shards"].as_array().unwrap().len(), 2);

    // The capacity gate needs a live bot: with a merge (or on a shard) it is a usage
    // error naming both flags, not a check silently left out.
    for (what, args) in [
        (
            "--merge",
            vec![
                "--config",
                config,
                "--min-capacity",
                "5",
                "--merge",
                results.to_str().unwrap(),
            ],
        ),
        (
            "shard",
            vec!["--config", config, "--min-capacity", "5", "--shard", "1/2"],
        ),
    ] {
        let out = gate(dir.path(), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("--min-capacity") && err.contains(what),
            "{err}"
        );
        assert!(err.contains("one machine"), "{err}");
    }

    // Only one shard: the merge is incomplete, and the gate blocks.
    let out = gate(
        dir.path(),
        &["--config", config, "--merge", runs[0].to_str().unwrap()],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("missing"), "{err}");
}

/// `--capacity` reaches the gate's arguments (a shard merge has no search of its own, so
/// the two are refused together), and a bad `capacity_drop` threshold is refused before
/// any work, naming the key.
#[test]
fn capacity_flags_and_the_capacity_drop_threshold_are_checked_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = gate(dir.path(), &["--capacity", "--merge", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--capacity"), "{}", stderr(&out));

    let bad = dir.path().join("drop.json");
    let config = format!(
        r#"{{"database_path": {:?}, "performance_baselines": {{"thresholds": {{"capacity_drop": 1.5}}}}}}"#,
        dir.path().join("m.db")
    );
    std::fs::write(&bad, config).unwrap();
    let out = gate(
        dir.path(),
        &["--config", bad.to_str().unwrap(), "--capacity"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("thresholds.capacity_drop"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("m.db").exists(),
        "refused before generating the database"
    );
}
