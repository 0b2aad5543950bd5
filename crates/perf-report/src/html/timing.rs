//! The run page's timing sections: latency, streaming, throughput.

use super::*;

pub(super) fn latency_section(out: &mut String, r: &RunResult) {
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
pub(super) fn goodput_kpi(result: &RunResult) -> Option<(String, &'static str)> {
    let g = result.goodput.as_ref()?.summary(result.wall_time_s);
    Some((
        format!(
            "{} q/s",
            g.overall.goodput_per_s.map_or("–".to_owned(), fmt::num)
        ),
        "goodput",
    ))
}

pub(super) fn streaming_kpis(o: &perf_core::record::GroupSummary) -> Vec<(String, &'static str)> {
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
pub(super) fn streaming_section(out: &mut String, r: &RunResult) {
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
pub(super) fn log_bins(hist: &LatencyHistogram, n: usize) -> Vec<(f64, f64)> {
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

pub(super) fn throughput_section(out: &mut String, r: &RunResult) {
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
pub(super) fn thin<T>(v: &[T]) -> impl Iterator<Item = &T> {
    let step = v.len().div_ceil(MAX_RESOURCE_POINTS).max(1);
    v.iter().step_by(step)
}
