use std::fmt::Write as _;

use crate::style::CSS;
use perf_core::record::{GroupStats, RunResult, Verdict};
use perf_core::LatencyHistogram;

use crate::escape::{html as h, truncate};
use crate::fmt;
use crate::model;
use crate::status::{overall_status, Status};
use crate::svg::{self, Band, HBars, IntervalRow, LineChart, Series, StackedBars};

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
    out.push_str(r##"<a href="#throughput">Throughput</a><a href="#resources">Resources</a><a href="#agents">Agents</a><a href="#errors">Errors</a><a href="#comparison">Baseline</a><a href="#trends">Trends</a><a href="#details">Details</a></nav>"##);

    checks_section(&mut out, result);
    latency_section(&mut out, result);
    if streamed {
        streaming_section(&mut out, result);
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

fn checks_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="checks"><h2>Checks and critical paths</h2>"#);
    let paths = model::critical_paths(r);
    if !paths.is_empty() {
        out.push_str("<h3>Critical paths</h3>");
        let rows: Vec<Vec<String>> = paths
            .iter()
            .map(|p| {
                let mut row = vec![cell(&p.check.name), badge(check_kind(p.check))];
                match p.stats {
                    Some((_, g)) => {
                        let l = g.latency.summary();
                        row.extend([
                            fmt::count(g.count),
                            fmt::percent(g.success_rate()),
                            h(&fmt::ms(l.p50_ms)),
                            h(&fmt::ms(l.p95_ms)),
                            h(&fmt::ms(l.p99_ms)),
                        ]);
                    }
                    None => row.extend(std::iter::repeat_n("–".to_owned(), 5)),
                }
                row.push(why_cell(&p.check.reason));
                row
            })
            .collect();
        table(
            out,
            &[
                "Path", "Result", "#Queries", "#Success", "#p50", "#p95", "#p99", "Why",
            ],
            &rows,
        );
    }
    let others: Vec<Vec<String>> = r
        .checks
        .iter()
        .filter(|c| c.group != model::CRITICAL_PATH)
        .map(|c| {
            vec![
                cell(c.group.as_str()),
                cell(&c.name),
                badge(check_kind(c)),
                why_cell(&c.reason),
            ]
        })
        .collect();
    if !others.is_empty() {
        out.push_str("<h3>Other checks</h3>");
        table(out, &["Group", "Check", "Result", "Why"], &others);
        // A rule shared by a group's checks is said once, under the table.
        let mut ruled: Vec<perf_core::record::CheckGroup> = Vec::new();
        for c in &r.checks {
            if c.group.rule().is_some() && !ruled.contains(&c.group) {
                ruled.push(c.group);
            }
        }
        for g in ruled {
            if let Some(rule) = g.rule() {
                let _ = write!(
                    out,
                    r#"<p class="rule"><b>{} rule:</b> {}</p>"#,
                    h(g.as_str()),
                    h(rule)
                );
            }
        }
    }
    if r.checks.is_empty() {
        empty(out, "No checks were made in this run.");
    }
    out.push_str("</section>");
}

fn latency_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="latency"><h2>Latency</h2>"#);
    let tl = &r.timeline;
    let mut p50 = Vec::new();
    let mut p95 = Vec::new();
    let mut p99 = Vec::new();
    let mut band_hi = Vec::new();
    let mut band_mid = Vec::new();
    for (i, b) in tl.buckets.iter().enumerate() {
        if b.latency.is_empty() {
            continue;
        }
        let x = (i as f64 + 0.5) * tl.bucket_s;
        let (a, c, d) = (
            ms_of(b.latency.percentile_micros(50.0)),
            ms_of(b.latency.percentile_micros(95.0)),
            ms_of(b.latency.percentile_micros(99.0)),
        );
        p50.push((x, a));
        p95.push((x, c));
        p99.push((x, d));
        band_hi.push((x, c, d));
        band_mid.push((x, a, c));
    }
    if p50.is_empty() {
        empty(out, "No latency over time: no query was sent.");
    } else {
        let chart = LineChart {
            title: "Latency over time (from intended start)".into(),
            x_label: format!("seconds since start ({} s slices)", fmt::num(tl.bucket_s)),
            y_label: "latency, ms".into(),
            bands: vec![
                Band {
                    name: "p95–p99".into(),
                    color: svg::RED,
                    opacity: 0.15,
                    points: band_hi,
                },
                Band {
                    name: "p50–p95".into(),
                    color: svg::ORANGE,
                    opacity: 0.2,
                    points: band_mid,
                },
            ],
            series: vec![
                Series::new("p50", svg::BLUE, p50),
                Series::new("p95", svg::ORANGE, p95),
                Series::new("p99", svg::RED, p99),
            ],
            ..LineChart::default()
        };
        out.push_str(&chart.render());
    }
    let lat = &r.overall.latency;
    if lat.is_empty() {
        empty(out, "No latency distribution: no query was sent.");
    } else {
        let chart = LineChart {
            title: "Latency distribution".into(),
            x_label: "latency, ms (log scale)".into(),
            y_label: "queries".into(),
            series: vec![Series {
                fill: true,
                ..Series::new("queries per bin", svg::BLUE, log_bins(lat, 60))
            }],
            x_log: true,
            ..LineChart::default()
        };
        out.push_str(&chart.render());
        let curve = |hist: &LatencyHistogram| -> Vec<(f64, f64)> {
            (0..=80)
                .map(|i| {
                    let nines = f64::from(i) * 0.05;
                    let p = 100.0 * (1.0 - 10f64.powf(-nines));
                    (nines, ms_of(hist.percentile_micros(p)))
                })
                .collect()
        };
        let mut service = Series::new("service time", svg::GREY, curve(&r.overall.service));
        service.dashed = true;
        let chart = LineChart {
            title: "Percentile curve".into(),
            x_label: "percentile".into(),
            y_label: "latency, ms".into(),
            series: vec![Series::new("latency", svg::BLUE, curve(lat)), service],
            x_ticks: Some(
                [
                    (0.0, "0%"),
                    (1.0, "90%"),
                    (2.0, "99%"),
                    (3.0, "99.9%"),
                    (4.0, "99.99%"),
                ]
                .iter()
                .map(|(x, l)| (*x, (*l).to_owned()))
                .collect(),
            ),
            ..LineChart::default()
        };
        out.push_str(&chart.render());
        let s = lat.summary();
        let sv = r.overall.service.summary();
        let row = |name: &str, s: perf_core::LatencySummary| {
            vec![
                h(name),
                fmt::count(s.count),
                h(&fmt::ms(s.min_ms)),
                h(&fmt::ms(s.mean_ms)),
                h(&fmt::ms(s.p50_ms)),
                h(&fmt::ms(s.p90_ms)),
                h(&fmt::ms(s.p95_ms)),
                h(&fmt::ms(s.p99_ms)),
                h(&fmt::ms(s.max_ms)),
                h(&fmt::ms(s.stdev_ms)),
            ]
        };
        table(
            out,
            &[
                "", "#Count", "#Min", "#Mean", "#p50", "#p90", "#p95", "#p99", "#Max", "#Stdev",
            ],
            &[
                row("latency (from intended start)", s),
                row("service time (from actual start)", sv),
            ],
        );
    }
    out.push_str("</section>");
}

/// The streaming headline figures, none when nothing streamed or had a token count.
/// The goodput tile, when the run counted goodput (its rule is in the title text of the
/// summary line in summary.md and docs/capacity.md).
fn goodput_kpi(result: &RunResult) -> Option<(String, &'static str)> {
    let g = result.goodput.as_ref()?.summary(result.wall_time_s);
    Some((
        format!(
            "{} q/s",
            g.overall.goodput_per_s.map_or("–".to_owned(), fmt::num)
        ),
        "goodput",
    ))
}

fn streaming_kpis(o: &perf_core::record::GroupSummary) -> Vec<(String, &'static str)> {
    let mut v = Vec::new();
    if let Some(t) = &o.ttft {
        v.push((fmt::ms(t.p50_ms), "p50 time to first token"));
        v.push((fmt::ms(t.p95_ms), "p95 time to first token"));
    }
    if let Some(t) = &o.tpot {
        v.push((fmt::ms(t.p50_ms), "p50 time per output token"));
    }
    if let Some(t) = o.output_tokens_per_s {
        v.push((format!("{} tok/s", fmt::num(t)), "output tokens"));
    }
    v
}

/// Time to first token, inter-token latency, time per output token and output tokens per
/// second: per agent as bars, and per group in tables. Only rendered when the run has
/// streaming figures.
fn streaming_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="streaming"><h2>Streaming</h2>"#);
    let wall = r.wall_time_s;
    let (agents, cut) = busiest(r.per_agent.iter(), |g| g.count, MAX_BARS);
    let busiest_note = if cut { ", busiest agents" } else { "" };
    let pcts = |hist: &LatencyHistogram| -> Vec<f64> {
        [50.0, 95.0, 99.0]
            .iter()
            .map(|p| ms_of(hist.percentile_micros(*p)))
            .collect()
    };
    let streamed: Vec<_> = agents.iter().filter(|(_, g)| g.is_streaming()).collect();
    if streamed.is_empty() {
        empty(out, "No answer was streamed: no time to first token.");
    } else {
        out.push_str(
            &HBars {
                title: format!("Time to first token per agent{busiest_note}"),
                unit: "ms".into(),
                series: vec![
                    ("p50".into(), svg::BLUE),
                    ("p95".into(), svg::ORANGE),
                    ("p99".into(), svg::RED),
                ],
                rows: streamed
                    .iter()
                    .map(|(k, g)| ((*k).clone(), pcts(&g.ttft)))
                    .collect(),
            }
            .render(),
        );
    }
    let decode: Vec<_> = agents
        .iter()
        .filter(|(_, g)| !g.itl.is_empty() || !g.tpot.is_empty())
        .collect();
    if !decode.is_empty() {
        // A missing figure draws no bar (non-finite values are skipped), never a 0.
        let p = |hist: &LatencyHistogram, q: f64| {
            if hist.is_empty() {
                f64::NAN
            } else {
                ms_of(hist.percentile_micros(q))
            }
        };
        out.push_str(
            &HBars {
                title: format!(
                    "Inter-token latency and time per output token per agent{busiest_note}"
                ),
                unit: "ms".into(),
                series: vec![
                    ("ITL p50".into(), svg::TEAL),
                    ("ITL p95".into(), svg::GREEN),
                    ("TPOT p50".into(), svg::PURPLE),
                    ("TPOT p95".into(), svg::GREY),
                ],
                rows: decode
                    .iter()
                    .map(|(k, g)| {
                        (
                            (*k).clone(),
                            vec![
                                p(&g.itl, 50.0),
                                p(&g.itl, 95.0),
                                p(&g.tpot, 50.0),
                                p(&g.tpot, 95.0),
                            ],
                        )
                    })
                    .collect(),
            }
            .render(),
        );
    }
    let rates: Vec<(String, Vec<f64>)> = agents
        .iter()
        .filter_map(|(k, g)| model::output_tokens_per_s(g, wall).map(|t| ((*k).clone(), vec![t])))
        .collect();
    if !rates.is_empty() {
        out.push_str(
            &HBars {
                title: format!("Output tokens per second per agent{busiest_note}"),
                unit: "tokens/s".into(),
                series: vec![("tokens/s".into(), svg::GREEN)],
                rows: rates,
            }
            .render(),
        );
    }
    let row = |label: &str, g: &GroupStats| {
        vec![
            cell(label),
            format!("{} of {}", fmt::count(g.ttft.count()), fmt::count(g.count)),
            h(&model::pct_ms(&g.ttft, 50.0)),
            h(&model::pct_ms(&g.ttft, 95.0)),
            h(&model::pct_ms(&g.ttft, 99.0)),
            h(&model::pct_ms(&g.itl, 50.0)),
            h(&model::pct_ms(&g.itl, 95.0)),
            h(&model::pct_ms(&g.tpot, 50.0)),
            h(&model::pct_ms(&g.tpot, 95.0)),
            if g.token_counted > 0 {
                fmt::count(g.output_tokens)
            } else {
                "–".to_owned()
            },
            h(&model::tokens_per_s_text(g, wall)),
        ]
    };
    let header = [
        "Group",
        "#Streamed",
        "#TTFT p50",
        "#TTFT p95",
        "#TTFT p99",
        "#ITL p50",
        "#ITL p95",
        "#TPOT p50",
        "#TPOT p95",
        "#Output tokens",
        "#Tokens/s",
    ];
    let mut rows = vec![row("overall", &r.overall)];
    rows.extend(r.per_agent.iter().map(|(k, g)| row(k, g)));
    out.push_str("<h3>Per agent</h3>");
    table(out, &header, &rows);
    for (title, map) in [
        ("Per category", &r.per_category),
        ("Per scenario", &r.per_scenario),
    ] {
        let rows: Vec<Vec<String>> = map
            .iter()
            .filter(|(_, g)| g.is_streaming() || g.token_counted > 0)
            .map(|(k, g)| row(k, g))
            .collect();
        if !rows.is_empty() {
            let _ = write!(out, "<h3>{}</h3>", h(title));
            table(out, &header, &rows);
        }
    }
    out.push_str(r#"<p class="empty">Time to first token counts from the query's actual start on our clock; ITL is each streamed answer's mean gap between pieces; TPOT is (last token − first token) / (tokens − 1); tokens per second are all answers' output tokens over the run's wall time. See docs/report-format.md.</p>"#);
    out.push_str("</section>");
}

/// Bins a histogram into `n` log-spaced bins; returns `(bin centre ms, count)`. Linear in
/// the histogram's buckets.
fn log_bins(hist: &LatencyHistogram, n: usize) -> Vec<(f64, f64)> {
    let lo = (hist.min_micros().max(1) as f64).ln();
    let hi = (hist.max_micros().max(2) as f64).ln().max(lo + 1e-6);
    let width = (hi - lo) / n as f64;
    let mut counts = vec![0u64; n];
    for (v, c) in hist.buckets() {
        let idx = (((v.max(1) as f64).ln() - lo) / width).floor();
        let idx = (idx.max(0.0) as usize).min(n - 1);
        counts[idx] += c;
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| ((lo + width * (i as f64 + 0.5)).exp() / 1000.0, *c as f64))
        .collect()
}

fn throughput_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="throughput"><h2>Throughput and errors over time</h2>"#);
    let tl = &r.timeline;
    if tl.buckets.iter().all(|b| b.count == 0) {
        empty(out, "No queries were scheduled.");
    } else {
        let w = if tl.bucket_s > 0.0 { tl.bucket_s } else { 1.0 };
        let n = tl.buckets.len();
        let mut ok = Vec::with_capacity(n);
        let mut failed = Vec::with_capacity(n);
        let mut dropped = Vec::with_capacity(n);
        for b in &tl.buckets {
            ok.push(b.count.saturating_sub(b.failures) as f64 / w);
            failed.push(b.failures.saturating_sub(b.dropped) as f64 / w);
            dropped.push(b.dropped as f64 / w);
        }
        let chart = StackedBars {
            title: "Queries per second by outcome".into(),
            x_label: format!("seconds since start ({} s slices)", fmt::num(w)),
            y_label: "queries/s".into(),
            x: (0..n).map(|i| i as f64 * w).collect(),
            width: w,
            layers: vec![
                ("ok".into(), svg::GREEN, ok),
                ("failed".into(), svg::RED, failed),
                ("dropped".into(), svg::GREY, dropped),
            ],
        };
        out.push_str(&chart.render());
    }
    out.push_str("</section>");
}

/// Every `step`-th reading, so long runs draw at most [`MAX_RESOURCE_POINTS`] points.
fn thin<T>(v: &[T]) -> impl Iterator<Item = &T> {
    let step = v.len().div_ceil(MAX_RESOURCE_POINTS).max(1);
    v.iter().step_by(step)
}

fn resources_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="resources"><h2>Resource usage</h2>"#);
    let res = &r.resources;
    if res.is_empty() {
        empty(
            out,
            "No resource readings: resource monitoring was off or took no reading.",
        );
    } else {
        let pts =
            |f: &dyn Fn(&perf_core::record::ResourceSample) -> Option<f64>| -> Vec<(f64, f64)> {
                thin(res)
                    .filter_map(|s| f(s).map(|v| (s.elapsed_s, v)))
                    .collect()
            };
        let mut series = vec![Series::new(
            "system (% of all cores)",
            svg::GREY,
            pts(&|s| Some(f64::from(s.system_cpu_percent))),
        )];
        let target_cpu = pts(&|s| s.target_cpu_percent.map(f64::from));
        if !target_cpu.is_empty() {
            series.push(Series::new("target (% of one core)", svg::BLUE, target_cpu));
        }
        series.push(Series::new(
            "harness (% of one core)",
            svg::ORANGE,
            pts(&|s| Some(f64::from(s.harness_cpu_percent))),
        ));
        out.push_str(
            &LineChart {
                title: "CPU".into(),
                x_label: "seconds since start".into(),
                y_label: "CPU, %".into(),
                series,
                ..LineChart::default()
            }
            .render(),
        );
        let mut series = Vec::new();
        let target_mem = pts(&|s| s.target_memory_mb);
        if !target_mem.is_empty() {
            series.push(Series::new("target", svg::BLUE, target_mem));
        }
        series.push(Series::new(
            "harness",
            svg::ORANGE,
            pts(&|s| Some(s.harness_memory_mb)),
        ));
        out.push_str(
            &LineChart {
                title: "Process memory (resident)".into(),
                x_label: "seconds since start".into(),
                y_label: "MiB".into(),
                series,
                ..LineChart::default()
            }
            .render(),
        );
        out.push_str(
            &LineChart {
                title: "System memory in use".into(),
                x_label: "seconds since start".into(),
                y_label: "MiB".into(),
                series: vec![Series::new(
                    "system",
                    svg::GREY,
                    pts(&|s| Some(s.system_memory_mb)),
                )],
                ..LineChart::default()
            }
            .render(),
        );
        let mut wr = Series::new("disk write", svg::PURPLE, pts(&|s| Some(s.disk_write_mb_s)));
        wr.dashed = true;
        let mut sent = Series::new("net sent", svg::GREEN, pts(&|s| Some(s.net_sent_mb_s)));
        sent.dashed = true;
        out.push_str(
            &LineChart {
                title: "Disk and network".into(),
                x_label: "seconds since start".into(),
                y_label: "MiB/s".into(),
                series: vec![
                    Series::new("disk read", svg::PURPLE, pts(&|s| Some(s.disk_read_mb_s))),
                    wr,
                    Series::new("net received", svg::TEAL, pts(&|s| Some(s.net_recv_mb_s))),
                    sent,
                ],
                ..LineChart::default()
            }
            .render(),
        );
    }
    let p = &r.resource_peaks;
    if p.samples > 0 {
        let opt = |v: Option<String>| v.unwrap_or_else(|| "–".to_owned());
        table(
            out,
            &["Peak", "#Value"],
            &[
                vec![
                    h("system CPU"),
                    format!("{}%", fmt::num(f64::from(p.max_system_cpu_percent))),
                ],
                vec![
                    h("system memory"),
                    format!("{} MiB", fmt::num(p.max_system_memory_mb)),
                ],
                vec![
                    h("target CPU"),
                    opt(p
                        .max_target_cpu_percent
                        .map(|v| format!("{}%", fmt::num(f64::from(v))))),
                ],
                vec![
                    h("target memory"),
                    opt(p
                        .max_target_memory_mb
                        .map(|v| format!("{} MiB", fmt::num(v)))),
                ],
                vec![
                    h("harness CPU"),
                    format!("{}%", fmt::num(f64::from(p.max_harness_cpu_percent))),
                ],
                vec![
                    h("harness saturated"),
                    if p.harness_saturated { "yes" } else { "no" }.to_owned(),
                ],
            ],
        );
    }
    out.push_str("</section>");
}

/// The `n` busiest entries of a map, busiest first, and whether some were left out.
fn busiest<'a, T>(
    map: impl Iterator<Item = (&'a String, T)>,
    weight: impl Fn(&T) -> u64,
    n: usize,
) -> (Vec<(&'a String, T)>, bool) {
    let mut v: Vec<_> = map.collect();
    v.sort_by(|a, b| weight(&b.1).cmp(&weight(&a.1)).then(a.0.cmp(b.0)));
    let cut = v.len() > n;
    v.truncate(n);
    (v, cut)
}

fn agents_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="agents"><h2>Agents</h2>"#);
    if r.per_agent.is_empty() {
        empty(out, "No agent data: no query was answered.");
    } else {
        let answered: u64 = r.overall.agent_usage.values().sum();
        if answered > 0 {
            let (usage, cut) = busiest(r.overall.agent_usage.iter(), |v| **v, MAX_BARS);
            out.push_str(
                &HBars {
                    title: format!(
                        "Agent usage (answered queries){}",
                        if cut { ", busiest agents" } else { "" }
                    ),
                    unit: "queries".into(),
                    series: vec![("queries".into(), svg::BLUE)],
                    rows: usage
                        .into_iter()
                        .map(|(k, v)| {
                            (
                                format!("{k} ({})", fmt::percent(*v as f64 / answered as f64)),
                                vec![*v as f64],
                            )
                        })
                        .collect(),
                }
                .render(),
            );
        }
        let (agents, cut) = busiest(r.per_agent.iter(), |g| g.count, MAX_BARS);
        out.push_str(
            &HBars {
                title: format!(
                    "Latency per agent{}",
                    if cut { ", busiest agents" } else { "" }
                ),
                unit: "ms".into(),
                series: vec![
                    ("p50".into(), svg::BLUE),
                    ("p95".into(), svg::ORANGE),
                    ("p99".into(), svg::RED),
                ],
                rows: agents
                    .into_iter()
                    .map(|(k, g)| {
                        (
                            k.clone(),
                            vec![
                                ms_of(g.latency.percentile_micros(50.0)),
                                ms_of(g.latency.percentile_micros(95.0)),
                                ms_of(g.latency.percentile_micros(99.0)),
                            ],
                        )
                    })
                    .collect(),
            }
            .render(),
        );
        groups_table(out, &r.per_agent, r.wall_time_s);
    }
    out.push_str("</section>");
}

fn errors_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="errors"><h2>Error analysis</h2>"#);
    let total = r.overall.count;
    let failing = model::failing_outcomes(&r.overall);
    if failing.is_empty() {
        empty(out, "No failures.");
        out.push_str("</section>");
        return;
    }
    out.push_str(
        &HBars {
            title: "Failures by kind".into(),
            unit: "queries".into(),
            series: vec![("queries".into(), svg::RED)],
            rows: failing
                .iter()
                .take(MAX_BARS)
                .map(|(k, n)| ((*k).to_owned(), vec![*n as f64]))
                .collect(),
        }
        .render(),
    );
    let rows: Vec<Vec<String>> = failing
        .iter()
        .map(|(k, n)| {
            vec![
                cell(k),
                fmt::count(*n),
                fmt::percent(*n as f64 / total.max(1) as f64),
            ]
        })
        .collect();
    out.push_str("<h3>By kind</h3>");
    table(out, &["Outcome", "#Queries", "#Share of all"], &rows);
    for (title, map) in [
        ("By agent", &r.per_agent),
        ("By scenario", &r.per_scenario),
        ("By category", &r.per_category),
    ] {
        let rows: Vec<Vec<String>> = map
            .iter()
            .filter(|(_, g)| g.failures() > 0)
            .map(|(k, g)| {
                vec![
                    cell(k),
                    fmt::count(g.failures()),
                    fmt::percent(g.failures() as f64 / g.count.max(1) as f64),
                    cell(&model::outcomes_line(g)),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let _ = write!(out, "<h3>{}</h3>", h(title));
            table(
                out,
                &["Group", "#Failures", "#Failure rate", "Outcomes"],
                &rows,
            );
        }
    }
    if r.failure_examples.is_empty() {
        empty(out, "No failure examples were kept.");
    } else {
        let shown = r.failure_examples.len().min(MAX_EXAMPLES);
        // A long list stays folded so the page remains readable at a glance.
        let _ = write!(
            out,
            "<details{}><summary><b>Examples</b> ({shown} of {} kept; a few per outcome and category)</summary>",
            if shown <= OPEN_EXAMPLES { " open" } else { "" },
            r.failure_examples.len()
        );
        out.push_str("<table><thead><tr><th>Query</th><th>Scenario / category</th><th>Agent</th><th>Outcome</th><th class=\"n\">Latency</th><th>Error or failed expectations</th><th>Answer excerpt</th></tr></thead><tbody>");
        for s in r.failure_examples.iter().take(MAX_EXAMPLES) {
            let expectations = s
                .failed_expectations
                .iter()
                .map(|f| format!("{}: {}", f.expectation, f.detail))
                .collect::<Vec<_>>()
                .join("\n");
            let detail = match (&s.error, expectations.is_empty()) {
                (Some(e), true) => e.clone(),
                (Some(e), false) => format!("{e}\n{expectations}"),
                (None, _) => expectations,
            };
            let agent = match (&s.agent, &s.expected_agent) {
                (Some(a), Some(e)) if a != e => format!("{a} (expected {e})"),
                (Some(a), _) => a.clone(),
                (None, Some(e)) => format!("none (expected {e})"),
                (None, None) => "none".to_owned(),
            };
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="txt">{}</td><td class="txt">{}</td></tr>"#,
                cell(&s.query_id),
                cell(&s.scenario),
                cell(&s.category),
                cell(&agent),
                cell(&s.outcome.label()),
                h(&fmt::ms(ms_of(s.latency_us))),
                cell(&detail),
                cell(s.answer_excerpt.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table></details>");
    }
    out.push_str("</section>");
}

fn comparison_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="comparison"><h2>Baseline comparison</h2>"#);
    let Some(c) = &r.comparison else {
        empty(out, "No baseline comparison in this run.");
        out.push_str("</section>");
        return;
    };
    let _ = write!(
        out,
        "<p>Baseline <b>{}</b>{}: {}</p>",
        cell(&c.baseline),
        if c.baseline_created_at.is_empty() {
            String::new()
        } else {
            format!(" (made {})", cell(&c.baseline_created_at))
        },
        badge(c.overall.as_str())
    );
    for d in &c.environment_differences {
        let _ = write!(
            out,
            r#"<div class="note">Environment differs: {}</div>"#,
            cell(d)
        );
    }
    if c.verdicts.is_empty() {
        empty(out, "The comparison has no metrics.");
    } else {
        let rows: Vec<IntervalRow> = c
            .verdicts
            .iter()
            .map(|v| IntervalRow {
                label: format!("{} {}", v.key, v.metric),
                value: v.relative_change,
                interval: v.interval,
                threshold: v.threshold,
                color: match v.verdict {
                    Verdict::Regression => svg::RED,
                    Verdict::Improvement => svg::GREEN,
                    Verdict::Inconclusive => svg::ORANGE,
                    Verdict::Pass => svg::BLUE,
                },
            })
            .collect();
        out.push_str(&svg::interval_plot(
            "Change with confidence interval",
            &rows,
        ));
        let rows: Vec<Vec<String>> = c
            .verdicts
            .iter()
            .map(|v| {
                vec![
                    cell(&v.key),
                    cell(&v.metric),
                    h(&fmt::metric_value(&v.metric, v.baseline)),
                    h(&fmt::metric_value(&v.metric, v.current)),
                    h(&fmt::change(&v.metric, v.relative_change)),
                    h(&fmt::interval(&v.metric, v.interval)),
                    v.p_value.map_or("–".to_owned(), |p| format!("{p:.4}")),
                    v.min_detectable_change
                        .map_or("–".to_owned(), |m| h(&fmt::change(&v.metric, m))),
                    h(&fmt::change(&v.metric, v.threshold)),
                    badge(v.verdict.as_str()),
                    cell(&v.reason),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Group",
                "Metric",
                "#Baseline",
                "#Current",
                "#Change",
                "Interval",
                "#p",
                "#Detectable",
                "#Threshold",
                "Verdict",
                "Why",
            ],
            &rows,
        );
    }
    out.push_str("</section>");
}

fn trends_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="trends"><h2>Trends over the run history</h2>"#);
    if let Some(history) = &r.history {
        // Already without user or password (perf-baseline's HistoryLocation).
        let _ = write!(out, "<p>Run history: <code>{}</code></p>", h(history));
    }
    if r.trends.iter().all(|t| t.points.is_empty()) {
        empty(out, "No run history to show trends for.");
    }
    let forecasts = crate::fmt::forecast_lines(r);
    if !forecasts.is_empty() {
        out.push_str(r#"<h3>Forecasts</h3><ul class="forecasts">"#);
        for line in &forecasts {
            let _ = write!(out, "<li>{}</li>", h(line));
        }
        out.push_str("</ul>");
    }
    for t in r.trends.iter().filter(|t| !t.points.is_empty()) {
        let points: Vec<(f64, f64)> = t
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i as f64 + 1.0, p.2))
            .collect();
        let markers = t
            .change_point
            .filter(|&i| i < t.points.len())
            .map(|i| {
                vec![(
                    i as f64 + 1.0,
                    format!("shift from {}", truncate(&t.points[i].0, 30)),
                )]
            })
            .unwrap_or_default();
        let chart = LineChart {
            title: format!(
                "{} ({} runs, slope {} per run)",
                t.metric,
                t.points.len(),
                fmt::num(t.slope_per_run)
            ),
            x_label: "run (oldest first)".into(),
            y_label: t.metric.clone(),
            series: vec![Series::new(t.metric.clone(), svg::BLUE, points)],
            markers,
            ..LineChart::default()
        };
        out.push_str(&chart.render());
    }
    out.push_str("</section>");
}

fn details_section(out: &mut String, r: &RunResult) {
    out.push_str(r#"<section id="details"><h2>Details</h2>"#);
    out.push_str("<h3>Per category</h3>");
    if r.per_category.is_empty() {
        empty(out, "No categories.");
    } else {
        groups_table(out, &r.per_category, r.wall_time_s);
    }
    out.push_str("<h3>Per scenario</h3>");
    if r.per_scenario.is_empty() {
        empty(out, "No scenarios.");
    } else {
        groups_table(out, &r.per_scenario, r.wall_time_s);
    }
    let s = &r.schedule;
    out.push_str("<h3>Schedule</h3>");
    table(
        out,
        &["", "#Value"],
        &[
            vec![
                h(&format!(
                    "late starts (> {} ms)",
                    perf_core::record::ScheduleStats::LATE_THRESHOLD_US / 1000
                )),
                fmt::count(s.late_starts),
            ],
            vec![h("dropped"), fmt::count(s.dropped)],
            vec![
                h("start lag p50"),
                h(&fmt::ms(ms_of(s.start_lag.percentile_micros(50.0)))),
            ],
            vec![
                h("start lag p99"),
                h(&fmt::ms(ms_of(s.start_lag.percentile_micros(99.0)))),
            ],
        ],
    );
    out.push_str("<h3>Phases</h3>");
    if r.phases.is_empty() {
        empty(out, "No phase timings.");
    } else {
        let rows: Vec<Vec<String>> = r
            .phases
            .iter()
            .map(|p| {
                vec![
                    p.number.to_string(),
                    cell(&p.name),
                    format!("{:.2} s", p.seconds),
                    cell(p.status.as_str()),
                    cell(&p.detail),
                ]
            })
            .collect();
        table(out, &["#Phase", "Name", "#Time", "Status", "Detail"], &rows);
    }
    if let Some(c) = &r.content {
        out.push_str("<h3>Content</h3>");
        let _ = write!(
            out,
            "<p>{} messages in {} channels by {} users over {} days.</p>",
            fmt::count(c.total_messages),
            c.active_channels(),
            c.active_users(),
            fmt::num(c.span_days())
        );
    }
    if !r.config.is_null() {
        let pretty = serde_json::to_string_pretty(&r.config).unwrap_or_default();
        let _ = write!(
            out,
            "<details><summary>Configuration</summary><pre>{}</pre></details>",
            h(&truncate(&pretty, 20_000))
        );
    }
    out.push_str("</section>");
}

#[cfg(test)]
mod tests {
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
