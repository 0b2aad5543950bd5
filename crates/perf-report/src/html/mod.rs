use std::fmt::Write as _;

use crate::style::CSS;
use perf_core::record::{GroupStats, RunResult, Verdict};
use perf_core::LatencyHistogram;

use crate::escape::{html as h, truncate};
use crate::fmt;
use crate::model;
use crate::status::{overall_status, Status};
use crate::svg::{self, Band, HBars, IntervalRow, LineChart, Series, StackedBars};

mod load;
mod outcomes;
mod timing;

use load::{agents_section, busiest, resources_section};
use outcomes::{
    checks_section, comparison_section, details_section, errors_section, trends_section,
};
use timing::{
    goodput_kpi, latency_section, streaming_kpis, streaming_section, thin, throughput_section,
};

/// The Content-Security-Policy of the report: nothing may load or run; inline styles and
/// `data:` images (the favicon) are the only exceptions. The report ships no script.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Resource readings drawn per chart at most; longer runs are thinned evenly.
const MAX_RESOURCE_POINTS: usize = 600;
/// Failure examples shown at most.
const MAX_EXAMPLES: usize = 100;
/// Bars per bar chart at most (the table below a chart lists every group).
const MAX_BARS: usize = 30;
/// Failure examples shown unfolded at most.
const OPEN_EXAMPLES: usize = 20;
/// Characters of untrusted text per table cell at most.
const CELL: usize = 300;

fn empty(out: &mut String, msg: &str) {
    let _ = write!(out, r#"<p class="empty">{}</p>"#, h(msg));
}

fn cell(s: &str) -> String {
    h(&truncate(s, CELL))
}

/// The most of one reason an expanded cell shows: bounded, because a reason can quote
/// what a bot sent.
const WHOLE: usize = 20_000;

/// A reason's cell: whole when it is short, else its start with the whole text one click
/// away (`<details>`), so nothing that explains a verdict is cut.
fn why_cell(s: &str) -> String {
    if s.chars().count() <= CELL {
        return h(s);
    }
    format!(
        r#"<details class="why"><summary>{}</summary>{}</details>"#,
        h(&truncate(s, CELL)),
        h(&truncate(s, WHOLE))
    )
}

/// A check's badge: `pass`, `fail` or `skip` (not measured: never shown as a pass).
fn check_kind(c: &perf_core::record::CheckResult) -> &'static str {
    match c.status {
        perf_core::record::CheckStatus::Passed => "pass",
        perf_core::record::CheckStatus::Failed => "fail",
        perf_core::record::CheckStatus::NotMeasured => "skip",
    }
}

fn badge(kind: &str) -> String {
    format!(r#"<span class="badge b-{k}">{k}</span>"#, k = h(kind))
}

/// A table from a header and rows of already-escaped cells; columns whose header starts
/// with `#` are numeric (right-aligned) and the `#` is dropped.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    out.push_str("<table><thead><tr>");
    for col in header {
        match col.strip_prefix('#') {
            Some(c) => {
                let _ = write!(out, r#"<th class="n">{}</th>"#, h(c));
            }
            None => {
                let _ = write!(out, "<th>{}</th>", h(col));
            }
        }
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let numeric = header.get(i).is_some_and(|c| c.starts_with('#'));
            let class = if numeric { r#" class="n""# } else { "" };
            let _ = write!(out, "<td{class}>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn group_row(label: &str, g: &GroupStats, wall: f64) -> Vec<String> {
    // Only the latency summary: the service-time one would double the cost per row.
    let l = g.latency.summary();
    vec![
        cell(label),
        fmt::count(g.count),
        fmt::percent(g.success_rate()),
        h(&fmt::ms(l.mean_ms)),
        h(&fmt::ms(l.p50_ms)),
        h(&fmt::ms(l.p95_ms)),
        h(&fmt::ms(l.p99_ms)),
        h(&fmt::ms(l.max_ms)),
        fmt::num(model::throughput(g, wall)),
        g.routing.accuracy().map_or("–".to_owned(), fmt::percent),
    ]
}

const GROUP_HEADER: [&str; 10] = [
    "Group", "#Queries", "#Success", "#Mean", "#p50", "#p95", "#p99", "#Max", "#q/s", "#Routing",
];

fn groups_table(out: &mut String, map: &std::collections::BTreeMap<String, GroupStats>, wall: f64) {
    let rows: Vec<Vec<String>> = map.iter().map(|(k, g)| group_row(k, g, wall)).collect();
    table(out, &GROUP_HEADER, &rows);
}

fn ms_of(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// Renders `report.html`: one self-contained page (no script, no network; a strict
/// Content-Security-Policy) with a verdict banner and inline-SVG charts of latency over
/// time, the latency distribution and percentile curve, throughput and errors, resource
/// use, agents, errors, the baseline comparison and trends. Sections without data say so
/// in one line. All text from queries, bots and configuration is escaped.
pub fn render_html(result: &RunResult) -> String {
    let status = overall_status(result);
    let wall = result.wall_time_s;
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>{} — perf run {}</title><style>{CSS}</style></head><body>"#,
        status.status.label(),
        h(&truncate(&result.run_id, 80))
    );

    // Verdict banner.
    let class = match status.status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
    };
    let _ = write!(
        out,
        r#"<header class="banner {class}"><h1>{}{}</h1><p>Run <b>{}</b> of <b>{}</b> ({}{}) · started {} · {:.1} s</p>"#,
        status.status.label(),
        if status.interrupted {
            " · interrupted"
        } else {
            ""
        },
        cell(&result.run_id),
        cell(&result.target.name),
        cell(result.target.transport.as_str()),
        result
            .target
            .version
            .as_deref()
            .map_or(String::new(), |v| format!(" {}", cell(v))),
        cell(&result.started_at),
        wall
    );
    if !status.reasons.is_empty() {
        out.push_str("<ul>");
        for r in &status.reasons {
            let _ = write!(out, "<li>{}</li>", h(r));
        }
        out.push_str("</ul>");
    }
    out.push_str("</header><main>");

    let o = result.overall.summary(wall);
    out.push_str(r#"<div class="kpis">"#);
    for (value, label) in [
        (fmt::count(o.count), "queries"),
        (fmt::percent(o.success_rate), "success rate"),
        (fmt::ms(o.latency.p50_ms), "p50 latency"),
        (fmt::ms(o.latency.p95_ms), "p95 latency"),
        (fmt::ms(o.latency.p99_ms), "p99 latency"),
        (
            format!("{} q/s", fmt::num(o.throughput_per_s)),
            "throughput",
        ),
        (
            o.routing_accuracy.map_or("–".to_owned(), fmt::percent),
            "routing accuracy",
        ),
        (fmt::count(o.failures), "failures"),
    ]
    .into_iter()
    .chain(goodput_kpi(result))
    .chain(streaming_kpis(&o))
    {
        let _ = write!(
            out,
            r#"<div class="kpi"><b>{}</b><span>{}</span></div>"#,
            h(&value),
            h(label)
        );
    }
    out.push_str("</div>");
    for note in &status.notes {
        let _ = write!(out, r#"<div class="note">{}</div>"#, cell(note));
    }
    if let Some(line) = crate::shards::shard_line(result) {
        let _ = write!(out, r#"<div class="note">{}</div>"#, cell(&line));
    }
    if let Some((title, rows)) = crate::shards::shard_table(result) {
        let _ = write!(out, r#"<section id="shards"><h2>{}</h2>"#, h(&title));
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(|c| cell(c)).collect())
            .collect();
        table(&mut out, &crate::shards::SHARD_HEADER, &rows);
        out.push_str("</section>");
    }
    let streamed = model::has_streaming(result);
    out.push_str(r##"<nav><a href="#checks">Checks</a><a href="#latency">Latency</a>"##);
    if streamed {
        out.push_str(r##"<a href="#streaming">Streaming</a>"##);
    }
    if result.discord.is_some() {
        out.push_str(r##"<a href="#discord">Discord</a>"##);
    }
    out.push_str(r##"<a href="#throughput">Throughput</a><a href="#resources">Resources</a><a href="#agents">Agents</a><a href="#errors">Errors</a><a href="#comparison">Baseline</a><a href="#trends">Trends</a><a href="#details">Details</a></nav>"##);

    checks_section(&mut out, result);
    latency_section(&mut out, result);
    if streamed {
        streaming_section(&mut out, result);
    }
    if let Some(rows) = crate::discord::discord_rows(result) {
        let _ = write!(
            out,
            r#"<section id="discord"><h2>{}</h2>"#,
            crate::discord::TITLE
        );
        let rows: Vec<Vec<String>> = rows.iter().map(|(k, v)| vec![h(k), cell(v)]).collect();
        table(&mut out, &["Figure", "Value"], &rows);
        out.push_str("</section>");
    }
    throughput_section(&mut out, result);
    resources_section(&mut out, result);
    agents_section(&mut out, result);
    errors_section(&mut out, result);
    comparison_section(&mut out, result);
    trends_section(&mut out, result);
    details_section(&mut out, result);

    let _ = writeln!(
        out,
        "</main><footer>perf-report {} · report.json holds every figure</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::timing::log_bins;
    use super::*;

    #[test]
    fn log_bins_keep_every_count() {
        let mut h = LatencyHistogram::new();
        for v in [1u64, 10, 100, 1_000, 10_000, 100_000, 1_000_000] {
            for _ in 0..v % 7 + 1 {
                h.record_micros(v);
            }
        }
        let bins = log_bins(&h, 60);
        assert_eq!(bins.len(), 60);
        assert_eq!(bins.iter().map(|b| b.1).sum::<f64>(), h.count() as f64);
        assert!(bins.windows(2).all(|w| w[0].0 < w[1].0), "bins ascend");
        let one = {
            let mut h = LatencyHistogram::new();
            h.record_micros(500);
            log_bins(&h, 10)
        };
        assert_eq!(one.iter().map(|b| b.1).sum::<f64>(), 1.0);
    }

    #[test]
    fn busiest_keeps_the_heaviest_in_order() {
        let map: std::collections::BTreeMap<String, u64> =
            (0..50u64).map(|i| (format!("a{i:02}"), i % 10)).collect();
        let (top, cut) = busiest(map.iter(), |v| **v, 3);
        assert!(cut);
        let names: Vec<&str> = top.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a09", "a19", "a29"]);
        let (all, cut) = busiest(map.iter(), |v| **v, 100);
        assert!(!cut);
        assert_eq!(all.len(), 50);
    }

    #[test]
    fn thinning_bounds_points_and_keeps_the_start() {
        let v: Vec<u32> = (0..1_500).collect();
        let kept: Vec<&u32> = thin(&v).collect();
        assert!(kept.len() <= MAX_RESOURCE_POINTS);
        assert!(kept.len() >= MAX_RESOURCE_POINTS / 2);
        assert_eq!(*kept[0], 0);
        assert_eq!(thin(&v[..10]).count(), 10);
    }
}
