//! A real browser opens `report.html` of a run full of XSS payloads.
//!
//! Finds Chromium at `/usr/bin/chromium`, `chromium-browser`, or the path in `CHROMIUM`.
//! When Chromium is missing the test fails with a message to install it: a browser test
//! never passes silently.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::fixture;

/// Generous: Chromium normally finishes in a few seconds; this only stops a hung browser
/// from hanging the test suite.
const BROWSER_DEADLINE: Duration = Duration::from_secs(180);

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
        "Chromium is missing, so the browser test of report.html cannot run although the \
         `browser-tests` feature asks for it: install it with `apt-get update && apt-get \
         install -y chromium`, or set CHROMIUM to its path"
    );
}

struct BrowserRun {
    stdout: String,
    stderr: String,
}

impl BrowserRun {
    /// Console messages of the page (errors, CSP violations, uncaught exceptions).
    fn console_messages(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| {
                l.contains(":CONSOLE")
                    || l.contains("Uncaught")
                    || l.contains("Refused to")
                    || l.contains("Content Security Policy")
            })
            .collect()
    }
}

fn run_chromium(page: &Path, extra: &[String], work: &Path) -> BrowserRun {
    let profile = tempfile::tempdir_in(work).unwrap();
    let out_path = work.join(format!("stdout-{}.txt", extra.len()));
    let err_path = work.join(format!("stderr-{}.txt", extra.len()));
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("start chromium");
    let start = Instant::now();
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
    BrowserRun {
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

/// Markers the payloads leave in the DOM if any of them ran.
fn executed_payload(dom: &str) -> Option<&'static str> {
    ["<title>PWNED</title>", "data-pwned=\"1\""]
        .into_iter()
        .find(|m| dom.contains(m))
}

#[test]
fn report_html_renders_in_chromium_and_runs_no_payload() {
    let work_root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("perf-report-browser");
    std::fs::create_dir_all(&work_root).unwrap();
    let work = tempfile::tempdir_in(&work_root).unwrap();
    let run = fixture::hostile_run();
    let paths = perf_report::write_run_reports(&run, &work.path().join("reports")).unwrap();

    // First prove the detectors work: a page that embeds the same payloads raw, under no
    // CSP, must be caught by the DOM markers; under our CSP, by the console.
    let raw_body: String = fixture::PAYLOADS.concat();
    let canary = work.path().join("canary.html");
    std::fs::write(
        &canary,
        format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>t</title></head><body>{raw_body}</body></html>"),
    )
    .unwrap();
    let caught = run_chromium(&canary, &["--dump-dom".to_owned()], work.path());
    assert!(
        executed_payload(&caught.stdout).is_some(),
        "the canary page's payloads should have run:\n{}",
        caught.stdout
    );
    let canary_csp = work.path().join("canary-csp.html");
    std::fs::write(
        &canary_csp,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"{}\"><title>t</title></head><body>{raw_body}</body></html>",
            perf_report::CONTENT_SECURITY_POLICY
        ),
    )
    .unwrap();
    let blocked = run_chromium(
        &canary_csp,
        &["--dump-dom".to_owned(), "--x".to_owned()],
        work.path(),
    );
    assert!(
        executed_payload(&blocked.stdout).is_none(),
        "the CSP blocks scripts"
    );
    assert!(
        !blocked.console_messages().is_empty(),
        "blocked payloads are reported on the console:\n{}",
        blocked.stderr
    );

    // The report itself.
    let page = run_chromium(&paths.html, &["--dump-dom".to_owned()], work.path());
    let dom = &page.stdout;
    assert!(
        dom.contains("</html>"),
        "chromium dumped the DOM:\n{}",
        page.stderr
    );
    assert_eq!(executed_payload(dom), None, "a payload ran");
    assert!(dom.contains("<title>FAIL — perf run"), "the title is ours");
    assert!(
        dom.contains("&lt;script&gt;document.body.setAttribute('data-pwned','1')&lt;/script&gt;"),
        "the payload text is shown escaped"
    );
    assert!(
        dom.contains("\\u{202E}gnp.exe"),
        "bidi override shown as an escape"
    );
    assert!(dom.contains("<svg"), "charts are drawn");
    let console = page.console_messages();
    assert!(console.is_empty(), "console messages: {console:#?}");

    // A screenshot for people (and for reviewing the layout).
    let shot = work_root.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let page = run_chromium(
        &paths.html,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2400".to_owned(),
            "--hide-scrollbars".to_owned(),
        ],
        work.path(),
    );
    let console = page.console_messages();
    assert!(console.is_empty(), "console messages: {console:#?}");
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 30_000,
        "the screenshot has content: {} bytes",
        png.len()
    );
}

/// Chromium's XML parser (libxml2) as a strict well-formedness check of `junit.xml`: a
/// malformed document is replaced by a `<parsererror>` page.
#[test]
fn junit_xml_of_a_hostile_run_is_well_formed_xml() {
    let work_root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("perf-report-browser");
    std::fs::create_dir_all(&work_root).unwrap();
    let work = tempfile::tempdir_in(&work_root).unwrap();

    let broken = work.path().join("broken.xml");
    std::fs::write(&broken, "<?xml version=\"1.0\"?>\n<a b=\"<\">\u{1}</a>\n").unwrap();
    let caught = run_chromium(&broken, &["--dump-dom".to_owned()], work.path());
    assert!(
        caught.stdout.contains("<parsererror"),
        "the detector must catch a malformed document:\n{}",
        caught.stdout
    );

    let paths =
        perf_report::write_run_reports(&fixture::hostile_run(), &work.path().join("reports"))
            .unwrap();
    let page = run_chromium(&paths.junit, &["--dump-dom".to_owned()], work.path());
    assert!(
        !page.stdout.contains("<parsererror"),
        "junit.xml is not well-formed:\n{}",
        page.stdout
    );
    assert!(
        page.stdout.contains("testsuites"),
        "the XML viewer shows the document"
    );
    assert!(page.console_messages().is_empty());
}
