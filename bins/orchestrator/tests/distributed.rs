//! A distributed test as an engine runs it: four `orchestrator` processes told their shard
//! by `JOB_COMPLETION_INDEX` (as a Kubernetes Indexed Job does), one shared start instant,
//! against one `refbot serve` in its LLM mode (model slots, a FIFO queue, streamed tokens);
//! then `orchestrator merge` on their results, compared with the same test on one machine.
//!
//! The refbot binary is taken from next to the orchestrator binary: `cargo test
//! --workspace` builds it (with `-p orchestrator` alone, build it first with `cargo build -p
//! refbot`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

mod common;

use common::{refbot_binary, ORCHESTRATOR};

/// `refbot serve` in LLM mode on a free port; the child and its base URL.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &Path, config: &Path) -> (Server, String) {
    let mut child = Command::new(refbot_binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--database")
        .arg(db)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("refbot: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Server(child), base)
}

fn run<S: AsRef<std::ffi::OsStr>>(dir: &Path, args: &[S], env: &[(&str, String)]) -> Child {
    let mut c = Command::new(ORCHESTRATOR);
    c.args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for k in ["JOB_COMPLETION_INDEX", "CI_NODE_INDEX", "CI_NODE_TOTAL"] {
        c.env_remove(k);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Waits for every shard's process; each must exit 0.
fn finish_shards(children: impl IntoIterator<Item = (String, Child)>) {
    for (shard, c) in children {
        let out = finish(c);
        assert_eq!(
            out.status.code(),
            Some(0),
            "shard {shard}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `orchestrator merge` of `<d>/shards` with `args`.
fn merge(d: &Path, mut args: Vec<String>) -> Output {
    args.extend(["merge".to_owned(), d.join("shards").display().to_string()]);
    finish(run(d, &args, &[]))
}

fn report(dir: &Path) -> serde_json::Value {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().join("report.json"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), 1, "one run in {}", dir.display());
    serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap()
}

#[test]
fn four_indexed_shards_merge_into_the_one_machine_result_and_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("messages.db");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(perf_synth::generate_database(
            &db,
            &perf_synth::FixtureConfig {
                messages: 1_500,
                ..perf_synth::FixtureConfig::default()
            },
        ))
        .unwrap();
    // Every answer's first token after exactly its agent's median × 0.02 (16–40 ms), 8
    // slots: a bot with a known service time, not the instant in-process one.
    let bot = d.join("bot.json");
    std::fs::write(
        &bot,
        r#"{"seed": 42, "llm": {"slots": 8, "time_scale": 0.02, "sigma": 0.0}}"#,
    )
    .unwrap();
    let (_server, base) = serve(&db, &bot);
    let target = format!("openai+{base}/v1/chat/completions");
    let config = d.join("suite.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "database_path": db,
            "history_path": d.join("history.db"),
            "query_count": 48,
            "parallel_execution": {"max_concurrent": 8, "rate_limit_per_second": null},
            "synthetic_testing": {"enabled": false},
            "performance_baselines": {"enabled": false},
            "resource_monitoring": {"monitoring_interval": 0.2},
            "shards": 4
        })
        .to_string(),
    )
    .unwrap();
    let common = |out: &str| {
        vec![
            "--config".to_owned(),
            config.display().to_string(),
            "--target".to_owned(),
            target.clone(),
            "--out".to_owned(),
            d.join(out).display().to_string(),
            "--quiet".to_owned(),
        ]
    };

    // The same test on one machine (shard 1 of 1).
    let mut args = common("single");
    args.extend(["--shard".to_owned(), "1/1".to_owned()]);
    let single = finish(run(d, &args, &[]));
    assert_eq!(
        single.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&single.stderr)
    );
    let single = report(&d.join("single"));

    // Four shards, as an Indexed Job starts them: the index in JOB_COMPLETION_INDEX, the
    // total from the configuration, one start instant a few seconds ahead.
    let start_at = (chrono_like_now() + 6).to_string();
    let mut args = common("shards");
    args.extend(["--start-at".to_owned(), start_at]);
    let children: Vec<(String, Child)> = (0..4)
        .map(|i| {
            let c = run(d, &args, &[("JOB_COMPLETION_INDEX", i.to_string())]);
            (i.to_string(), c)
        })
        .collect();
    finish_shards(children);

    let merged_out = merge(d, common("merged"));
    let stdout = String::from_utf8_lossy(&merged_out.stdout);
    assert_eq!(
        merged_out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&merged_out.stderr)
    );
    assert!(stdout.contains("a merge of 4 of 4 shards"), "{stdout}");
    let merged = report(&d.join("merged"));

    // Identical counts and outcomes, per agent category too, and the same verdict.
    for key in ["count", "successes", "outcomes", "agent_usage", "routing"] {
        assert_eq!(merged["overall"][key], single["overall"][key], "{key}");
    }
    assert_eq!(merged["overall"]["count"], 48);
    for (cat, g) in single["per_category"].as_object().unwrap() {
        assert_eq!(merged["per_category"][cat]["count"], g["count"], "{cat}");
    }
    assert_eq!(merged["status"]["status"], single["status"]["status"]);
    // Every answer was streamed, at no less than the bot's fixed first-token time.
    assert_eq!(
        merged["summary"]["overall"]["ttft"]["count"],
        merged["overall"]["count"]
    );
    assert!(
        merged["summary"]["overall"]["ttft"]["min_ms"]
            .as_f64()
            .unwrap()
            >= 16.0
    );
    let shards = merged["merge"]["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["number"], i as u64 + 1);
        assert_eq!(s["count"], 12, "closed-loop users and queries dealt evenly");
        assert!(s["start_lateness_ms"].is_number(), "{s}");
    }
    let phases: Vec<u64> = merged["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(phases, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        merged["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["group"] == "critical_path")
            .count(),
        single["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["group"] == "critical_path")
            .count()
    );

    // A p95 limit no answer can meet fails both the same way (exit 1).
    let strict = d.join("strict.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    v["regression_testing"] = serde_json::json!({"limits": {"max_p95_ms": 1.0}});
    std::fs::write(&strict, v.to_string()).unwrap();
    let mut args = common("strict");
    args[1] = strict.display().to_string();
    args.extend(["merge".to_owned(), d.join("shards").display().to_string()]);
    let out = finish(run(d, &args, &[]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut args = common("strict-single");
    args[1] = strict.display().to_string();
    args.extend(["--shard".to_owned(), "1/1".to_owned()]);
    let out = finish(run(d, &args, &[]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn chrono_like_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn bad_shard_input_exits_2_naming_the_flag_or_variable() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str], env: &[(&str, String)], words: &str| {
        let out = finish(run(dir.path(), args, env));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
    };
    check(&["--shard", "5/4"], &[], "--shard");
    check(&["--shard", "1/0"], &[], "0");
    check(
        &["--shard-total", "4"],
        &[("JOB_COMPLETION_INDEX", "4".into())],
        "JOB_COMPLETION_INDEX",
    );
    check(&["--start-at", "2001-01-01T00:00:00Z"], &[], "past");
    let days_ahead = (chrono_like_now() + 3 * 86_400).to_string();
    check(&["--start-at", &days_ahead], &[], "24 hours");
    check(&["merge", "nowhere"], &[], "nowhere");
}

/// Issue #23, item 1: a merge follows the run's exit rule. Its history cannot be written
/// (the history file's directory is a regular file), so it exits 2 naming the history,
/// with every report of the merged run written and the problem in its notes.
#[test]
fn a_merge_whose_history_cannot_be_written_exits_2_with_every_report_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("blocker"), "a file, not a directory").unwrap();
    let config = d.join("suite.json");
    std::fs::write(
        &config,
        serde_json::json!({
            "database_path": d.join("messages.db"),
            "history_path": d.join("blocker/history.db"),
            "query_count": 12,
            "fixture": {"messages": 1500},
            "parallel_execution": {"rate_limit_per_second": null},
            "synthetic_testing": {"enabled": false},
            "performance_baselines": {"enabled": false},
            "shards": 2
        })
        .to_string(),
    )
    .unwrap();
    let args = |out: &str| {
        vec![
            "--config".to_owned(),
            config.display().to_string(),
            "--out".to_owned(),
            d.join(out).display().to_string(),
            "--quiet".to_owned(),
        ]
    };
    // The shards do not record history, so they run; each its own process, one at a time.
    for shard in ["1/2", "2/2"] {
        let mut a = args("shards");
        a.extend(["--shard".to_owned(), shard.to_owned()]);
        finish_shards([(shard.to_owned(), run(d, &a, &[]))]);
    }
    let out = merge(d, args("merged"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: run history not updated"),
        "{stderr}"
    );
    let merged = report(&d.join("merged"));
    assert_eq!(merged["overall"]["count"], 12);
    assert!(
        merged["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("run history not updated")),
        "{}",
        merged["notes"]
    );
    let run_dir = std::fs::read_dir(d.join("merged"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("report.json").is_file())
        .unwrap();
    for file in ["report.json", "summary.md", "report.html", "junit.xml"] {
        assert!(run_dir.join(file).is_file(), "{file} written");
    }
}
