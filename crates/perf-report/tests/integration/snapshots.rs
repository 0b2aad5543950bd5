//! Snapshots of the text reports for a fixed run. Accept new ones locally with
//! `INSTA_UPDATE=always cargo test -p perf-report`, then review the `.snap` files.

use crate::fixture;

/// Redacts the values that change between real runs (ids, times), so the snapshots
/// hold the layout and the figures.
fn redact(s: &str) -> String {
    let r = fixture::run();
    s.replace(&r.run_id, "[run-id]")
        .replace(&r.started_at, "[started-at]")
        .replace(env!("CARGO_PKG_VERSION"), "[version]")
}

#[test]
fn summary_markdown() {
    insta::assert_snapshot!(
        "summary_md",
        redact(&perf_report::render_markdown(&fixture::run()))
    );
}

#[test]
fn terminal_table_without_colour() {
    let out = perf_report::render_terminal(&fixture::run(), false);
    assert!(!out.contains('\u{1b}'), "colour off means no escape codes");
    insta::assert_snapshot!("terminal", redact(&out));
}

#[test]
fn terminal_table_with_colour_only_adds_codes() {
    let plain = perf_report::render_terminal(&fixture::run(), false);
    let coloured = perf_report::render_terminal(&fixture::run(), true);
    assert!(coloured.contains("\u{1b}[31m"), "a failing run shows red");
    let mut stripped = String::new();
    let mut chars = coloured.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, plain);
}

#[test]
fn junit_xml() {
    insta::assert_snapshot!(
        "junit_xml",
        redact(&perf_report::render_junit(&fixture::run()))
    );
}

/// A bot that is not ours, as the defaults judge it: the generated facts and the routing
/// not measured (grounding), no baseline yet, every check that applies passed.
fn your_bot_run() -> perf_core::record::RunResult {
    use perf_core::record::{CheckGroup, CheckResult};
    let mut r = fixture::run();
    r.comparison = None;
    r.checks.retain(|c| c.passed());
    r.notes = vec!["agents the bot returned: finder (135), people (95), recap (83), stats (81) (map them to critical paths with the config's `agents`)".into()];
    r.checks.push(CheckResult::not_measured(
        CheckGroup::Grounding,
        "grounded_facts",
        "not measured: the bot does not answer from the configured database (0 of 6 calibration answers held the generated server's facts), so the generated server's facts are not judged; point `database_path` at the bot's own data, import the export it serves, or give your own questions (--questions FILE)",
    ));
    r.checks.push(CheckResult::not_measured(
        CheckGroup::Baseline,
        "production_baseline",
        "no baseline `production_baseline` in baselines: create it with `cargo run --release --bin orchestrator -- baseline create production_baseline`",
    ));
    r
}

#[test]
fn your_bot_terminal_summary_and_junit() {
    let r = your_bot_run();
    let terminal = perf_report::render_terminal(&r, false);
    // A missing baseline and unjudged facts are SKIP, never a pass.
    assert!(
        terminal.contains("SKIP baseline/production_baseline"),
        "{terminal}"
    );
    insta::assert_snapshot!("your_bot_terminal", redact(&terminal));
    let md = perf_report::render_markdown(&r);
    assert!(md.contains("SKIP"), "{md}");
    insta::assert_snapshot!("your_bot_summary_md", redact(&md));
    let junit = perf_report::render_junit(&r);
    assert!(junit.contains("<skipped message=\"no baseline"), "{junit}");
    insta::assert_snapshot!("your_bot_junit", redact(&junit));
}
