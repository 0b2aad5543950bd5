//! A real headless Chromium opens the live page of a run full of XSS payloads.
//!
//! Built only with the `browser-tests` feature, so `cargo test --workspace` needs no
//! browser; `.ci/run` installs Chromium and runs
//! `cargo test -p perf-live --features browser-tests --test browser`. Chromium is found at
//! `/usr/bin/chromium`, `chromium-browser`, or the path in `CHROMIUM`; when it is missing the
//! test fails: a browser test never passes silently.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use perf_core::record::CheckResult;
use perf_core::Outcome;
use perf_live::{LiveFinal, LiveOptions, LiveServer, Verdict};
use perf_runner::{RunEvent, SampleEvent};
use perf_suite::SuiteEvent;

/// Generous: Chromium normally finishes in a few seconds; this only stops a hung browser
/// from hanging the test suite.
const BROWSER_DEADLINE: Duration = Duration::from_secs(60);

const AGENT: &str = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
const SCRIPT: &str = "</script><script>document.title='PWNED'</script>";

fn chromium() -> PathBuf {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/usr/bin/chromium",
                "/usr/bin/chromium-browser",
                "/usr/bin/google-chrome",
            ]
            .map(PathBuf::from),
        );
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "Chromium is missing, so the browser test of the live page cannot run although the \
         `browser-tests` feature asks for it: install it with `apt-get update && apt-get \
         install -y chromium`, or set CHROMIUM to its path"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_renders_hostile_updates_as_text_in_chromium() {
    // The default interval: with a much shorter one, the stream never lets Chromium's
    // virtual time budget run out.
    let (live, tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), LiveOptions::default())
        .await
        .unwrap();
    tx.send(SuiteEvent::RunStarted {
        run_id: SCRIPT.to_owned(),
    })
    .unwrap();
    tx.send(SuiteEvent::Note(AGENT.to_owned())).unwrap();
    for ms in [10, 20, 30] {
        tx.send(SuiteEvent::Runner(RunEvent::Sample(SampleEvent {
            outcome: Outcome::Ok,
            attempts: 1,
            scheduled_at_us: 0,
            latency_us: ms * 1_000,
            service_us: ms * 1_000,
            agent: Some(Arc::from(AGENT)),
            scenario: Some(Arc::from(SCRIPT)),
            ttft_us: Some(1_000),
        })))
        .unwrap();
    }
    tx.send(SuiteEvent::Check(CheckResult {
        group: perf_core::record::CheckGroup::CriticalPath,
        name: SCRIPT.to_owned(),
        status: perf_core::record::CheckStatus::from_passed(false),
        reason: AGENT.to_owned(),
    }))
    .unwrap();
    live.finish(LiveFinal {
        verdict: Verdict::Fail,
        reasons: vec![SCRIPT.to_owned()],
        reports: Some(PathBuf::from(AGENT)),
        discord: None,
    });
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let url = live.url();
    let work = tempfile::tempdir().unwrap();
    let profile = work.path().to_owned();
    // Chromium wants its profile directory to itself.
    let files = tempfile::tempdir().unwrap();
    let profile_dir = profile.clone();
    let profile = files.path().to_owned();
    let (dom, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--virtual-time-budget=3000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile_dir.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(profile.join("dom.html")).unwrap())
            .stderr(std::fs::File::create(profile.join("stderr.txt")).unwrap())
            .spawn()
            .expect("start chromium");
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "chromium exited with {status}");
                break;
            }
            if start.elapsed() > BROWSER_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        (
            std::fs::read_to_string(profile.join("dom.html")).unwrap(),
            std::fs::read_to_string(profile.join("stderr.txt")).unwrap(),
        )
    })
    .await
    .unwrap();

    // The script ran (its hash is allowed by the CSP) and drew the final state.
    assert!(dom.contains("<h1 id=\"title\">FAIL</h1>"), "{dom}");
    assert!(dom.contains("class=\"banner fail\""), "{dom}");
    // Every payload is text: escaped in the DOM, none ran.
    assert!(!dom.contains("<title>PWNED</title>"));
    assert!(!dom.contains("data-pwned=\"1\""));
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the agent shown as text"
    );
    assert!(
        dom.contains("&lt;/script&gt;&lt;script&gt;"),
        "the check name shown as text"
    );
    let refused: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("Refused to") || l.contains("Content Security Policy"))
        .collect();
    assert!(refused.is_empty(), "CSP violations: {refused:?}");
    live.shutdown().await;
}
