//! `orchestrator --target discord:<command>` end to end: a fake Discord, the reference bot
//! started as a Discord bot (`refbot discord`), the original suite's phases, the report.
//! The bot is a real child process speaking the gateway and REST over loopback.
//!
//! The refbot binary is taken from next to the orchestrator binary: `cargo test
//! --workspace` builds it (with `-p orchestrator` alone, build it first with `cargo build -p
//! refbot`).

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::{refbot_binary, ORCHESTRATOR};

/// Runs the orchestrator in `dir` on `refbot discord <bot_flags>` (a database generated in
/// `dir`), writing under `dir/out`, with `flags` added.
fn run_refbot_discord(dir: &Path, bot_flags: &str, flags: &[&str]) -> Output {
    let db = dir.join("db.sqlite");
    let target = format!(
        "discord:{} discord {bot_flags} --database {}",
        refbot_binary().display(),
        db.display()
    );
    Command::new(ORCHESTRATOR)
        .current_dir(dir)
        .args(["--quiet", "--no-synthetic", "--database"])
        .arg(&db)
        .args(["--out", "out", "--target", &target])
        .args(flags)
        .output()
        .unwrap()
}

#[test]
fn a_discord_bot_is_load_tested_through_the_fake_discord() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_refbot_discord(dir.path(), "--latency-scale 0", &["--max-queries", "8"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/latest/report.json")).unwrap(),
    )
    .unwrap();
    let overall = &report["overall"];
    assert_eq!(overall["count"], 8, "{overall}");
    assert_eq!(overall["outcomes"]["ok"], 8, "{overall}");
    // The first message is a Discord bot's time to first token: recorded for every answer.
    assert!(
        overall["ttft"].as_str().is_some_and(|h| !h.is_empty()),
        "{overall}"
    );
    let checks = report["checks"].as_array().unwrap();
    for name in [
        "event loop",
        "rate limits",
        "message length",
        "reply channel",
    ] {
        let c = checks
            .iter()
            .find(|c| c["group"] == "discord" && c["name"] == name)
            .unwrap_or_else(|| panic!("no discord check {name}: {checks:?}"));
        assert_eq!(c["status"], "passed", "{c}");
    }
    assert_eq!(
        report["target"]["transport"], "discord",
        "{}",
        report["target"]
    );
    // What the fake Discord saw: every answer typed first and posted one message; the
    // reference bot never edits, is never rate-limited and its heartbeats came.
    let d = &report["discord"];
    // (The answers count the first-query check's and the probes' too, past the 8.)
    let answers = d["answers"].as_u64().unwrap();
    assert!(answers >= 8, "{d}");
    assert_eq!(d["messages"], answers, "{d}");
    assert_eq!(d["edits"], 0, "{d}");
    assert!(d.get("rate_limits").is_none(), "{d}");
    let typing: perf_core::LatencyHistogram = serde_json::from_value(d["typing"].clone()).unwrap();
    assert_eq!(typing.count(), answers, "{d}");
    let summary = std::fs::read_to_string(dir.path().join("out/latest/summary.md")).unwrap();
    assert!(
        summary.contains("### Discord") && summary.contains("| typing | p50 "),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "| per answer | 1.00 messages, 0.00 edits ({answers} and 0 in all) |"
        )),
        "{summary}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/latest/report.html")).unwrap();
    assert!(
        html.contains(r#"<section id="discord">"#),
        "no Discord section"
    );
    assert!(
        stdout.contains("Discord") && stdout.contains("event loop"),
        "{stdout}"
    );
}

/// A bot whose process exits on its third question: that question counts as crashed, the
/// bot is started again (it logs in and identifies anew) and answers the next ones, and
/// the report says so.
#[test]
fn a_discord_bot_that_crashes_is_restarted_and_its_question_counted_as_crashed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_refbot_discord(
        dir.path(),
        "--echo --exit-after 3",
        &["--no-parallel", "--max-queries", "6"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/latest/report.json"))
            .unwrap_or_else(|e| panic!("no report ({e}): {stderr}")),
    )
    .unwrap();
    let outcomes = &report["overall"]["outcomes"];
    let crashed = outcomes["error:crashed"].as_u64().unwrap_or(0);
    let ok = outcomes["ok"].as_u64().unwrap_or(0);
    assert!(crashed >= 1, "{outcomes}");
    assert!(ok >= 3, "{outcomes}");
    assert!(
        report["discord"]["crashes"].as_u64().unwrap() >= 1,
        "{}",
        report["discord"]
    );
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("was restarted") && notes.contains("counted as crashed"),
        "{notes}"
    );
    let log = std::fs::read_to_string(dir.path().join("out/latest/bot-stderr.log")).unwrap();
    assert!(log.contains("--exit-after"), "{log}");
}
