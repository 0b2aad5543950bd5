//! The run history through the binary: `--history-url` is checked before anything runs,
//! never echoes a password, names an unreachable server; and (with the `postgres-tests`
//! feature) two machines' runs recorded into one PostgreSQL database are listed with their
//! trend by a third invocation.

mod common;

use common::{free_port, orchestrator, text};

#[test]
fn a_password_in_history_url_exits_2_without_being_shown() {
    let dir = tempfile::tempdir().unwrap();
    let out = orchestrator(
        dir.path(),
        &[
            "history",
            "--history-url",
            "postgres://perf:hunter2@db.example/perf",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("--history-url") && t.contains("PGPASSWORD"),
        "{t}"
    );
    assert!(!t.contains("hunter2"), "{t}");

    let config = dir.path().join("c.json");
    std::fs::write(
        &config,
        r#"{"history_url": "postgres://perf:hunter2@db.example/perf"}"#,
    )
    .unwrap();
    let out = orchestrator(dir.path(), &["history", "--config", "c.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("c.json") && t.contains("history_url"), "{t}");
    assert!(!t.contains("hunter2"), "{t}");
}

#[test]
fn an_unreachable_history_server_exits_2_naming_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("postgres://perf@127.0.0.1:{port}/perf");
    let out = orchestrator(dir.path(), &["history", "--history-url", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("postgres://[redacted]@127.0.0.1:{port}/perf")),
        "{t}"
    );
    assert!(t.contains("check that the server runs"), "{t}");
}

/// Issue #28, item 5: a libpq key-value string, by flag or in the variable
/// `history_url_env` names, is refused before anything runs and never shown (it was
/// taken as an SQLite file name, created in the working directory, and its password
/// reached report.json); a secret query parameter such as `sslpassword` is refused in a
/// flag and never shown either.
#[test]
fn a_libpq_string_or_a_secret_parameter_is_refused_without_being_shown() {
    const PW: &str = "pw-Kq7Lm2Xz9Rt4";
    let dir = tempfile::tempdir().unwrap();
    let libpq = format!("host=127.0.0.1 port=5432 password={PW} dbname=perf");
    for args in [
        vec!["history", "--history-url", libpq.as_str()],
        vec!["--quiet", "--history-url", libpq.as_str()],
    ] {
        let out = orchestrator(dir.path(), &args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains("--history-url") && t.contains("libpq"), "{t}");
        assert!(!t.contains(PW) && !t.contains("pw-Kq7"), "{t}");
    }
    std::fs::write(
        dir.path().join("env.json"),
        r#"{"history_url_env": "PERF_TEST_LIBPQ_HISTORY"}"#,
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["--quiet", "--config", "env.json"])
        .current_dir(dir.path())
        .env("PERF_TEST_LIBPQ_HISTORY", &libpq)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("PERF_TEST_LIBPQ_HISTORY") && t.contains("libpq"),
        "{t}"
    );
    assert!(!t.contains(PW), "{t}");

    let url = format!("postgres://perf@127.0.0.1:9/perf?sslmode=require&sslpassword={PW}");
    let out = orchestrator(dir.path(), &["history", "--history-url", &url]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("sslpassword=[redacted]") && t.contains("PGPASSWORD"),
        "{t}"
    );
    assert!(!t.contains(PW), "{t}");
    // Nothing was created: no SQLite file named after the string, no run.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "env.json")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Issue #28, items 5 and 8: an unreachable shared history is found before the first
/// query (exit 2, no run directory), not after the run.
#[test]
fn an_unreachable_history_server_stops_a_run_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("postgres://perf@127.0.0.1:{port}/perf");
    let out = orchestrator(dir.path(), &["--quiet", "--history-url", &url]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("check that the server runs"), "{t}");
    assert!(!dir.path().join("reports").exists(), "a run started: {t}");
    assert!(!dir.path().join("data").exists(), "phase 1 ran: {t}");
}

#[test]
fn a_sqlite_history_url_is_the_same_file_as_history_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = orchestrator(dir.path(), &["history", "--history-url", "sqlite://h/x.db"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("no runs recorded in h/x.db"),
        "{}",
        text(&out)
    );
    assert!(dir.path().join("h/x.db").is_file());
}

#[cfg(feature = "postgres-tests")]
mod postgres {
    use super::{orchestrator, text};

    /// A fresh database on the test server (`PERF_TEST_POSTGRES_URL`, a URL without
    /// password; `PGPASSWORD` holds it); fails when the server is not given.
    async fn fresh_database() -> String {
        use sqlx::ConnectOptions;
        let base = std::env::var("PERF_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "PERF_TEST_POSTGRES_URL is not set, but the postgres-tests feature is on: \
                 start a server with `eval \"$(.ci/postgres start /tmp/perf-pg)\"`"
            )
        });
        let options: sqlx::postgres::PgConnectOptions = base.parse().unwrap();
        let mut conn = options.connect().await.unwrap();
        let name = format!(
            "perf_cli_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&base).unwrap();
        url.set_path(&format!("/{name}"));
        url.to_string()
    }

    /// Two machines (their own working directories, databases and reports) run the suite
    /// into one PostgreSQL history; a third lists both runs and their trend. Every report
    /// names the history without its user, and nothing prints the password.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_machines_record_into_one_postgres_history_and_a_third_lists_both() {
        let url = fresh_database().await;
        let password = std::env::var("PGPASSWORD").unwrap_or_default();
        let config = r#"{"query_count": 12, "fixture": {"messages": 1500},
            "synthetic_testing": {"enabled": false},
            "parallel_execution": {"rate_limit_per_second": null},
            "performance_baselines": {"enabled": false}}"#;
        let machines: Vec<tempfile::TempDir> =
            (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
        let runs = machines.iter().map(|m| {
            std::fs::write(m.path().join("suite.json"), config).unwrap();
            let dir = m.path().to_owned();
            let url = url.clone();
            tokio::task::spawn_blocking(move || {
                orchestrator(
                    &dir,
                    &["--config", "suite.json", "--quiet", "--history-url", &url],
                )
            })
        });
        let mut ids = Vec::new();
        for (run, machine) in runs.collect::<Vec<_>>().into_iter().zip(&machines) {
            let out = run.await.unwrap();
            let t = text(&out);
            assert_ne!(out.status.code(), Some(2), "{t}");
            assert!(!password.is_empty() && !t.contains(&password), "{t}");
            let report: serde_json::Value = serde_json::from_slice(
                &std::fs::read(machine.path().join("reports/latest/report.json")).unwrap(),
            )
            .unwrap();
            let shown = report["history"].as_str().unwrap().to_owned();
            assert!(
                shown.starts_with("postgres://[redacted]@127.0.0.1:"),
                "{shown}"
            );
            assert!(
                !report.to_string().contains("run history not updated"),
                "{report}"
            );
            ids.push(report["run_id"].as_str().unwrap().to_owned());
            // Nothing was written to the default SQLite file.
            assert!(!machine.path().join("data/history.db").exists());
        }
        let third = tempfile::tempdir().unwrap();
        let out = orchestrator(third.path(), &["history", "--history-url", &url]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(0), "{t}");
        for id in &ids {
            assert!(t.contains(id.as_str()), "run {id} listed: {t}");
        }
        assert!(
            t.contains("run history: postgres://[redacted]@127.0.0.1:"),
            "{t}"
        );
        // Both machines ran the same target, so the runs and the trend sit under it.
        assert!(t.contains("target refbot (in_process):"), "{t}");
        assert!(
            t.contains("trends of this target over its last 20 runs"),
            "{t}"
        );
        assert!(t.contains("latency_median   2 runs"), "{t}");
        assert!(!t.contains(&password), "{t}");
    }
}
