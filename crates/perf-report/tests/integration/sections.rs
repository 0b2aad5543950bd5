//! Reports of runs with little or no data, and of interrupted runs.

use perf_core::record::RunResult;
use perf_core::TargetInfo;
use perf_report::{render_html, render_junit, render_markdown, render_terminal, Status};

use crate::fixture;

fn empty_run() -> RunResult {
    RunResult::new("empty", "2026-01-01T00:00:00Z", TargetInfo::default())
}

#[test]
fn empty_sections_say_so_in_one_line_instead_of_drawing() {
    let html = render_html(&empty_run());
    for line in [
        "No checks were made in this run.",
        "No latency over time: no query was sent.",
        "No latency distribution: no query was sent.",
        "No queries were scheduled.",
        "No resource readings: resource monitoring was off or took no reading.",
        "No agent data: no query was answered.",
        "No failures.",
        "No baseline comparison in this run.",
        "No run history to show trends for.",
    ] {
        assert!(html.contains(line), "missing: {line}");
    }
    assert!(!html.contains("<svg"), "no empty charts");
    assert!(html.contains(r#"<header class="banner warn"><h1>WARN"#));
    assert!(html.contains("no queries were recorded"));
}

#[test]
fn a_full_run_draws_every_chart() {
    let html = render_html(&fixture::run());
    for title in [
        "Latency over time (from intended start)",
        "Latency distribution",
        "Percentile curve",
        "Queries per second by outcome",
        "CPU",
        "Process memory (resident)",
        "System memory in use",
        "Disk and network",
        "Agent usage (answered queries)",
        "Latency per agent",
        "Failures by kind",
        "Change with confidence interval",
        "latency_p95 (6 runs, slope 9.10 per run)",
    ] {
        assert!(
            html.contains(&format!("<title>{title}</title>")),
            "missing chart: {title}"
        );
    }
    assert!(
        html.contains("shift from run3"),
        "the change point is marked"
    );
    assert!(html.contains(r#"<header class="banner fail"><h1>FAIL"#));
}

#[test]
fn empty_run_text_reports_are_well_formed() {
    let r = empty_run();
    let md = render_markdown(&r);
    assert!(md.starts_with("## ⚠️ WARN — performance run empty"));
    assert!(md.contains("**0** queries"));
    let xml = render_junit(&r);
    assert!(xml.contains(r#"tests="1" failures="0" errors="0" skipped="0""#));
    let term = render_terminal(&r, false);
    assert!(term.contains("overall"));
    assert!(term.contains("no queries were recorded"));
}

#[test]
fn interrupted_runs_are_marked_everywhere() {
    let mut r = fixture::run();
    r.checks.clear();
    r.comparison = None;
    r.interrupted = true;
    assert_eq!(perf_report::overall_status(&r).status, Status::Warn);
    assert!(render_html(&r).contains("<h1>WARN · interrupted</h1>"));
    assert!(render_markdown(&r).starts_with("## ⚠️ WARN (interrupted)"));
    let xml = render_junit(&r);
    assert!(xml.contains(
        r#"<testcase classname="perf.run" name="completed" time="0"><skipped message="the run was interrupted; figures cover what ran"/>"#
    ));
    assert!(render_terminal(&r, false).contains("the run was interrupted"));
}

#[test]
fn summary_fits_a_pull_request_comment_however_many_checks() {
    let mut r = fixture::run();
    for i in 0..2_000 {
        for group in [
            perf_core::record::CheckGroup::CriticalPath,
            perf_core::record::CheckGroup::Gate,
            perf_core::record::CheckGroup::Robustness,
        ] {
            r.checks.push(perf_core::record::CheckResult {
                group,
                name: format!("{group}-{i}-{}", "x".repeat(100)),
                status: perf_core::record::CheckStatus::from_passed(i % 2 == 0),
                reason: "y".repeat(500),
            });
        }
    }
    let md = render_markdown(&r);
    // GitHub comments and job summaries hold 65,536 characters.
    assert!(
        md.chars().count() < 65_536,
        "{} characters",
        md.chars().count()
    );
    assert!(md.contains("… and 1964 more critical paths; see `report.html`."));
    assert!(md.contains("… and 960 more checks not passed"));
    // Failing paths come first.
    let first_row = md
        .lines()
        .find(|l| l.starts_with("| ") && l.contains("❌"))
        .unwrap_or_default();
    assert!(first_row.contains("digest\\_generation"), "{first_row}");
}

/// A reason longer than a line is never lost: the terminal prints one line of it and
/// names the file that has it whole (or prints it whole with `verbose`); summary.md puts
/// it whole in a details block under the table; report.html one click away.
#[test]
fn a_long_reason_is_whole_one_click_one_flag_or_one_file_away() {
    let mut r = fixture::run();
    let tail = "because the bot's p95 of 2,400 ms is above the 2,000 ms limit";
    let reason = format!("{} {tail}", "slow answers and more words ".repeat(12));
    r.checks.push(perf_core::record::CheckResult::judged(
        perf_core::record::CheckGroup::Gate,
        "p95_latency",
        false,
        reason,
    ));

    for class in ["emoji", "unicode"] {
        r.checks.push(perf_core::record::CheckResult::judged(
            perf_core::record::CheckGroup::Robustness,
            class,
            true,
            "4/4 graceful",
        ));
    }

    let plain = render_terminal(&r, false);
    // Passed edge-case classes fold into one line; the failed one keeps its own.
    assert!(
        plain.contains("✓ robustness: 2 edge-case classes handled gracefully"),
        "{plain}"
    );
    assert!(!plain.contains("robustness/emoji") && plain.contains("✗ robustness/xss"));
    let line = plain
        .lines()
        .find(|l| l.contains("✗ gate/p95_latency"))
        .expect("a line for the check");
    assert!(line.ends_with('…') && !line.contains(tail), "{line}");
    assert!(
        plain.contains("1 reason shortened to one line: read it whole in the run's summary.md or run with --verbose"),
        "{plain}"
    );
    let named = perf_report::render_terminal_with(
        &r,
        &perf_report::TerminalOptions {
            full_text: Some("reports/run-1/summary.md".into()),
            ..Default::default()
        },
    );
    assert!(named.contains("read it whole in reports/run-1/summary.md"));
    let verbose = perf_report::render_terminal_with(
        &r,
        &perf_report::TerminalOptions {
            verbose: true,
            ..Default::default()
        },
    );
    assert!(verbose.contains(tail), "{verbose}");
    assert!(verbose.contains("✓ robustness/emoji"), "{verbose}");
    assert!(!verbose.contains("shortened"));
    // Verbose lists the query categories the default leaves out.
    assert!(verbose.contains("category "));
    assert!(!plain.lines().any(|l| l.starts_with("category ")));
    assert!(plain.contains("query categories not listed: --verbose lists them"));

    let md = render_markdown(&r);
    assert!(md.contains("(whole below)"), "{md}");
    let details = &md[md
        .find("<details><summary>Whole reasons</summary>")
        .expect("a details block")..];
    assert!(details.contains("**gate/p95\\_latency**"), "{details}");
    assert!(
        details.contains("because the bot's p95 of 2,400 ms"),
        "{details}"
    );

    let html = render_html(&r);
    assert!(html.contains(r#"<details class="why"><summary>"#));
    assert!(
        html.contains("because the bot&#39;s p95 of 2,400 ms"),
        "the whole reason is in the page"
    );
}

/// A bot that answers every probe as it answered the probe's control passes its classes
/// even when the probes miss facts: the probe and control categories are parts of the
/// classes their checks judge, never failed classes of their own.
#[test]
fn probe_and_control_categories_are_not_classes_of_their_own() {
    let mut r = empty_run();
    for (category, outcome) in [
        ("edge:xss", perf_core::Outcome::Ok),
        ("edge:xss:health", perf_core::Outcome::FailedExpectation),
        ("edge:control:health", perf_core::Outcome::FailedExpectation),
    ] {
        r.record(&perf_core::Sample::new(
            "q",
            "edge_cases",
            category,
            outcome,
            1_000,
        ));
    }
    r.checks.push(perf_core::record::CheckResult {
        group: perf_core::record::CheckGroup::Robustness,
        name: "xss".to_owned(),
        status: perf_core::record::CheckStatus::from_passed(true),
        reason: "2/2 graceful".to_owned(),
    });
    let md = render_markdown(&r);
    assert!(
        md.contains("### Robustness: 1 of 1 classes handled"),
        "{md}"
    );
    assert!(!md.contains("| xss:health"), "{md}");
    assert!(!md.contains("| control"), "{md}");
}

#[test]
fn the_trends_section_names_the_history_they_came_from() {
    let mut r = fixture::run();
    assert!(!render_html(&r).contains("Run history:"));
    r.history = Some("postgres://[redacted]@db.example:5432/perf".into());
    let html = render_html(&r);
    assert!(
        html.contains("Run history: <code>postgres://[redacted]@db.example:5432/perf</code>"),
        "the trends section names its history"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["history"],
        "postgres://[redacted]@db.example:5432/perf"
    );
}

#[test]
fn a_check_not_measured_is_skip_everywhere_never_a_pass() {
    let mut r = fixture::run();
    r.checks
        .retain(|c| c.group != perf_core::record::CheckGroup::Baseline);
    r.checks.push(perf_core::record::CheckResult::not_measured(
        perf_core::record::CheckGroup::Baseline,
        "nightly",
        "no baseline `nightly` yet",
    ));
    let junit = render_junit(&r);
    let case = junit
        .split("<testcase")
        .find(|c| c.contains(r#"name="nightly""#))
        .expect("a case for the check");
    assert!(
        case.contains("<skipped message=\"no baseline `nightly` yet\""),
        "{case}"
    );
    let html = render_html(&r);
    let row = html
        .split("<tr>")
        .find(|row| row.contains("nightly"))
        .expect("a row for the check");
    assert!(row.contains(r#"class="badge b-skip""#), "{row}");
    assert!(!row.contains("b-pass"), "{row}");
    let md = render_markdown(&r);
    assert!(
        md.lines()
            .any(|l| l.contains("nightly") && l.contains("SKIP (not measured)")),
        "{md}"
    );
    let term = render_terminal(&r, false);
    assert!(
        term.lines()
            .any(|l| l.contains("SKIP") && l.contains("nightly")),
        "{term}"
    );
    assert!(term.contains("not measured"), "{term}");
}
