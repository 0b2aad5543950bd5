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
