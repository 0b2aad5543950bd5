//! Hostile text from queries and bots stays inert in every format.

use crate::fixture::{self, PAYLOADS};

fn hostile() -> perf_core::record::RunResult {
    fixture::hostile_run()
}

const RAW_FORBIDDEN: &[&str] = &["\0", "\u{202E}", "\u{2066}", "\u{2069}", "\u{1b}"];

fn assert_no_raw_controls(what: &str, out: &str) {
    for bad in RAW_FORBIDDEN {
        assert!(!out.contains(bad), "{what} contains raw {bad:?}");
    }
}

#[test]
fn html_has_no_live_markup_from_payloads() {
    let html = perf_report::render_html(&hostile());
    for tag in [
        "<script",
        "<img",
        "<iframe",
        "<x ",
        "onerror=\"",
        "onload=\"",
    ] {
        assert!(!html.contains(tag), "report.html contains {tag}");
    }
    // The page's own markup: exactly one style element, the CSP meta, no script.
    assert_eq!(html.matches("<style>").count(), 1);
    assert_eq!(html.matches("</style>").count(), 1);
    assert!(html.contains(&format!(
        r#"<meta http-equiv="Content-Security-Policy" content="{}">"#,
        perf_report::CONTENT_SECURITY_POLICY
    )));
    assert!(html.contains("&lt;script&gt;document.body.setAttribute("));
    assert!(
        html.contains("\\u{202E}gnp.exe"),
        "bidi overrides are shown as escapes"
    );
    assert_no_raw_controls("report.html", &html);
}

#[test]
fn junit_is_well_formed_xml_1_0_text() {
    let xml = perf_report::render_junit(&hostile());
    assert_no_raw_controls("junit.xml", &xml);
    assert!(
        xml.chars()
            .all(|c| c == '\n' || !(c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}')),
        "junit.xml holds characters XML 1.0 forbids"
    );
    assert!(
        !xml.contains("<x "),
        "payload markup must not become elements"
    );
    assert!(!xml.contains("]]>"), "no CDATA terminator from payloads");
    // Every opened element is closed: a crude balance check of the elements we write.
    for tag in [
        "testsuites",
        "testsuite",
        "testcase",
        "failure",
        "system-out",
    ] {
        let opened =
            xml.matches(&format!("<{tag} ")).count() + xml.matches(&format!("<{tag}>")).count();
        let closed = xml.matches(&format!("</{tag}>")).count();
        assert_eq!(opened, closed, "<{tag}> balance");
    }
    assert!(xml.contains("&lt;script&gt;"));
}

#[test]
fn markdown_tables_keep_their_shape() {
    let md = perf_report::render_markdown(&hostile());
    assert_no_raw_controls("summary.md", &md);
    assert!(!md.contains("@everyone"), "mentions are defused");
    assert!(!md.contains("<script"), "no raw HTML from payloads");
    assert!(!md.contains("[link]("), "no live links from payloads");
    assert!(
        md.contains("\\[link\\](javascript:"),
        "the link text is shown escaped"
    );
    // Every row of a table has as many unescaped pipes as its header.
    let unescaped_pipes = |line: &str| {
        let b = line.as_bytes();
        (0..b.len())
            .filter(|&i| {
                let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
                b[i] == b'|' && backslashes % 2 == 0
            })
            .count()
    };
    let mut header_pipes = None;
    let mut rows = 0;
    for line in md.lines() {
        if line.starts_with('|') {
            let n = unescaped_pipes(line);
            match header_pipes {
                None => header_pipes = Some(n),
                Some(h) => {
                    assert_eq!(n, h, "row breaks its table: {line}");
                    rows += 1;
                }
            }
        } else {
            header_pipes = None;
        }
    }
    assert!(rows > 5, "the hostile run fills tables");
}

#[test]
fn terminal_output_has_no_foreign_escape_sequences() {
    let out = perf_report::render_terminal(&hostile(), false);
    assert_no_raw_controls("terminal", &out);
    let coloured = perf_report::render_terminal(&hostile(), true);
    // Only SGR colour codes of ours: ESC is always followed by `[` and digits then `m`.
    for (i, _) in coloured.match_indices('\u{1b}') {
        let rest = &coloured[i + 1..];
        let end = rest.find('m').unwrap_or(rest.len());
        assert!(rest.starts_with('['), "escape without CSI at {i}");
        assert!(rest[1..end]
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b';'));
    }
    assert!(
        !coloured.contains("\u{1b}[31mred"),
        "the payload's own colour code is neutralised"
    );
}

#[test]
fn json_round_trips_and_keeps_payloads_verbatim() {
    let r = hostile();
    let json = perf_report::render_json(&r).unwrap();
    let back: perf_core::record::RunResult = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r, "report.json parses back to the same run result");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["report_format_version"],
        perf_report::REPORT_FORMAT_VERSION
    );
    assert_eq!(
        v["format_version"],
        perf_core::record::RUN_RESULT_FORMAT_VERSION
    );
    assert_eq!(v["status"]["status"], "fail");
    assert!(v["summary"]["overall"]["count"].as_u64().unwrap() >= 200);
    assert!(json.contains("\\u0000"), "JSON keeps NUL, escaped");
    assert!(PAYLOADS.len() > 5);
}
