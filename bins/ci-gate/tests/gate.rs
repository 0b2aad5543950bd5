//! The gate through its real binary, against the reference bot on a small generated
//! database: exit codes and the reasons it gives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// A config file with the given `refbot` section; everything lives in the temp dir.
    fn config(&self, name: &str, refbot: serde_json::Value) -> PathBuf {
        let config = serde_json::json!({
            "database_path": self.path("data/discord_messages.db"),
            "fixture": { "messages": 2000 },
            "output_dir": self.path("reports"),
            "history_path": self.path("data/history.db"),
            "performance_baselines": { "baselines_dir": self.path("baselines") },
            "resource_monitoring": { "monitoring_interval": 0.25 },
            "refbot": refbot,
        });
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        path
    }

    fn gate(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ci-gate"))
            .args(args)
            .arg("--out")
            .arg(self.path("cicd_results"))
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap()
    }

    /// Makes baseline `b` from a gate-shaped run of the unmodified bot.
    fn baseline(&self) {
        let config = self.config("base.json", serde_json::json!({}));
        let out = self.gate(&["--config", config.to_str().unwrap(), "--baseline", "b"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let report = latest_report(&self.path("cicd_results"));
        let run: perf_core::RunResult = serde_json::from_str(&report).unwrap();
        let store = perf_baseline::BaselineStore::new(self.path("baselines"));
        let env = perf_baseline::EnvironmentFingerprint::detect(&run.target, "test");
        store
            .create_from_run("b", &run, env, perf_baseline::WriteMode::CreateNew)
            .unwrap();
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn latest_report(root: &Path) -> String {
    std::fs::read_to_string(root.join("latest").join("report.json")).unwrap()
}

#[test]
fn passes_against_a_baseline_of_the_same_bot_and_blocks_a_50_percent_slowdown() {
    let f = Fixture::new();
    f.baseline();
    let same = f.config("same.json", serde_json::json!({}));
    let out = f.gate(&["--config", same.to_str().unwrap(), "--baseline", "b"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PASS baseline_validation"),
        "{}",
        stderr(&out)
    );
    let root = f.path("cicd_results");
    for file in ["junit.xml", "summary.md", "report.json", "report.html"] {
        assert!(root.join("latest").join(file).is_file(), "{file}");
    }

    // On one thread (a current-thread runtime) the same bot passes too.
    let out = f.gate(&[
        "--config",
        same.to_str().unwrap(),
        "--baseline",
        "b",
        "--single-thread",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PASS baseline_validation"),
        "{}",
        stderr(&out)
    );

    let slow = f.config("slow.json", serde_json::json!({ "latency_factor": 1.5 }));
    let out = f.gate(&["--config", slow.to_str().unwrap(), "--baseline", "b"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("FAIL baseline_validation"), "{err}");
    assert!(err.contains("regression"), "{err}");
}

#[test]
fn errors_past_the_critical_path_limit_block() {
    let f = Fixture::new();
    let config = f.config("errors.json", serde_json::json!({ "error_rate": 0.4 }));
    let out = f.gate(&["--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("FAIL critical_paths"), "{err}");
}

#[test]
fn an_echoed_xss_payload_blocks() {
    let f = Fixture::new();
    let config = f.config("naive.json", serde_json::json!({ "naive": true }));
    let out = f.gate(&["--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("FAIL edge_case_handling"), "{err}");
    assert!(err.contains("xss"), "{err}");
}

#[test]
fn setup_problems_exit_2() {
    let f = Fixture::new();
    let bad = f.path("bad.json");
    std::fs::write(&bad, r#"{"query_count": 5,"#).unwrap();
    let out = f.gate(&["--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.json"), "{}", stderr(&out));

    let config = f.config("ok.json", serde_json::json!({}));
    let out = f.gate(&[
        "--config",
        config.to_str().unwrap(),
        "--target",
        "http://127.0.0.1:9/query",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("could not run"), "{}", stderr(&out));

    let out = f.gate(&[
        "--config",
        config.to_str().unwrap(),
        "--baseline",
        "nope",
        "--strict-baseline",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("baseline create nope"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_budget_that_runs_out_blocks_with_a_partial_report() {
    let f = Fixture::new();
    // Answers take seconds each, so 200 queries cannot finish in the budget.
    let config = f.config("slow.json", serde_json::json!({ "latency_scale": 40.0 }));
    let started = std::time::Instant::now();
    let out = f.gate(&["--config", config.to_str().unwrap(), "--timeout", "6"]);
    let elapsed = started.elapsed().as_secs_f64();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("budget ran out"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&latest_report(&f.path("cicd_results"))).unwrap();
    assert_eq!(report["interrupted"], true);
    assert!(report["overall"]["count"].as_u64().unwrap() < 200);
    // Generous bound: the gate stops at the budget and gives queries a one-second grace;
    // the slack is for process start-up on a loaded machine, not for the gate itself.
    assert!(elapsed < 6.0 + 10.0, "took {elapsed:.1} s");
}

#[test]
fn live_serves_during_the_gate_and_a_public_address_needs_the_flag() {
    let f = Fixture::new();
    let config = f.config("live.json", serde_json::json!({}));
    let config = config.to_str().unwrap();
    let out = f.gate(&["--config", config, "--live", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--live-public"), "{}", stderr(&out));
    assert!(!f.path("cicd_results").exists(), "refused before running");

    let out = f.gate(&["--config", config, "--live", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("live view: http://127.0.0.1:"),
        "{}",
        stderr(&out)
    );
}
