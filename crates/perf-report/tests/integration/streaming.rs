//! Streaming figures (time to first token, inter-token latency, time per output token,
//! output tokens per second) appear in every report when a run has them, and only then.

use perf_report::{render_html, render_junit, render_markdown, render_terminal};

use crate::fixture::{self, PAYLOADS, PLAIN_AGENT};

/// The cells of the terminal table row whose first cell is `label` (cells are separated
/// by two spaces or more).
fn row_cells(table: &str, label: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn terminal_shows_ttft_and_tokens_columns_only_when_streamed() {
    let out = render_terminal(&fixture::streaming_run(), false);
    let header = row_cells(&out, "group");
    assert_eq!(
        header[header.len() - 3..],
        ["ttft p50", "ttft p95", "tok/s"],
        "{out}"
    );
    let overall = row_cells(&out, "overall");
    assert_eq!(overall.len(), header.len(), "{out}");
    assert!(overall[9].starts_with("200"), "ttft p50: {out}");
    assert!(overall[10].starts_with("200"), "ttft p95: {out}");
    // 80 streamed answers of 100 tokens in 10 s.
    assert_eq!(overall[11], "800", "{out}");
    let plain = row_cells(&out, &format!("agent {PLAIN_AGENT}"));
    assert_eq!(plain[9..], ["–", "–", "–"], "no stream is not 0 ms: {out}");

    let plain_run = render_terminal(&fixture::run(), false);
    assert!(!plain_run.contains("ttft"), "{plain_run}");
    assert!(!plain_run.contains("tok/s"), "{plain_run}");
}

#[test]
fn markdown_has_a_streaming_section_only_when_streamed() {
    let md = render_markdown(&fixture::streaming_run());
    assert!(md.contains("### Streaming"), "{md}");
    let overall = md
        .lines()
        .find(|l| l.starts_with("| overall |"))
        .unwrap_or_else(|| panic!("no overall row in\n{md}"));
    assert!(overall.contains("| 80 of 120 |"), "{overall}");
    assert!(overall.contains("| 20.0 ms |"), "ITL p50: {overall}");
    assert!(overall.contains("| 15.0 ms |"), "TPOT p50: {overall}");
    assert!(overall.ends_with("| 800 |"), "{overall}");
    let plain = md
        .lines()
        // Markdown escapes the underscores of the name.
        .find(|l| l.starts_with(&format!("| agent {} |", PLAIN_AGENT.replace('_', "\\_"))))
        .unwrap_or_else(|| panic!("no plain agent row in\n{md}"));
    assert!(plain.contains("| 0 of 40 | – | – | – | – | – |"), "{plain}");
    assert!(!md.contains(PAYLOADS[1]), "agent names are escaped");

    let plain_run = render_markdown(&fixture::run());
    assert!(!plain_run.contains("Streaming"), "{plain_run}");
}

#[test]
fn html_draws_streaming_charts_only_when_streamed() {
    let html = render_html(&fixture::streaming_run());
    for title in [
        "Time to first token per agent",
        "Inter-token latency and time per output token per agent",
        "Output tokens per second per agent",
    ] {
        assert!(
            html.contains(&format!("<title>{title}</title>")),
            "missing chart: {title}"
        );
    }
    assert!(html.contains(r##"<a href="#streaming">Streaming</a>"##));
    assert!(html.contains("p95 time to first token"), "a KPI tile");
    assert!(html.contains("800 tok/s"), "the tokens-per-second tile");
    assert!(!html.contains(PAYLOADS[1]), "agent names are escaped");
    // The plain agent has no bar in the TTFT chart and "–" in the table.
    let section = &html[html.find(r#"<section id="streaming">"#).unwrap()..];
    let section = &section[..section.find("</section>").unwrap()];
    let ttft_chart = &section[..section.find("</svg>").unwrap()];
    assert!(!ttft_chart.contains(PLAIN_AGENT), "{ttft_chart}");
    assert!(section.contains(&format!(
        "<td>{PLAIN_AGENT}</td><td class=\"n\">0 of 40</td><td class=\"n\">–</td>"
    )));

    let plain_run = render_html(&fixture::run());
    assert!(!plain_run.contains("streaming"), "no section, no link");
    assert!(!plain_run.contains("first token"));
}

#[test]
fn junit_adds_ttft_to_streamed_critical_paths() {
    let mut r = fixture::streaming_run();
    for name in ["semantic_search", PLAIN_AGENT] {
        r.checks.push(perf_core::record::CheckResult {
            group: perf_core::record::CheckGroup::CriticalPath,
            name: name.to_owned(),
            status: perf_core::record::CheckStatus::from_passed(true),
            reason: "ok".to_owned(),
        });
    }
    let xml = render_junit(&r);
    let case = |name: &str| {
        let start = xml.find(&format!("name=\"{name}\"")).unwrap();
        let end = start + xml[start..].find("</testcase>").unwrap();
        xml[start..end].to_owned()
    };
    assert!(case("semantic_search").contains("TTFT p50 200"), "{xml}");
    assert!(
        case("semantic_search").contains("400 output tok/s"),
        "{xml}"
    );
    assert!(!case(PLAIN_AGENT).contains("TTFT"), "{xml}");
    assert!(!render_junit(&fixture::run()).contains("TTFT"));
}
