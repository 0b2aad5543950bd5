//! Reports of a capacity run: `report.json` (the [`CapacityReport`]), `summary.md`, a
//! terminal table and `report.html` with inline-SVG charts (latency percentiles and
//! goodput against offered load, the USL curve over the measured points with the knee).

use std::fmt::Write as _;
use std::path::Path;

use perf_core::record::{CapacityReport, ProbeReport, ProbeVerdict};

use crate::svg::{LineChart, Series, BLUE, GREEN, GREY, ORANGE, RED};
use crate::{escape, ReportError};

/// One line on a run's goodput ("goodput 1.6 q/s: 80.0% of 200 queries good (latency ≤
/// 2000 ms)"), or `None` when the run did not count it.
pub(crate) fn goodput_line(result: &perf_core::record::RunResult) -> Option<String> {
    let g = result.goodput.as_ref()?.summary(result.wall_time_s);
    let mut rule = Vec::new();
    if let Some(ms) = g.latency_threshold_ms {
        rule.push(format!("latency ≤ {ms:.0} ms"));
    }
    if let Some(ms) = g.ttft_threshold_ms {
        rule.push(format!("TTFT ≤ {ms:.0} ms"));
    }
    rule.push("right answer, right agent".to_owned());
    Some(format!(
        "goodput {} q/s: {} of {} queries good ({})",
        g.overall
            .goodput_per_s
            .map_or("–".to_owned(), crate::fmt::num),
        g.overall
            .good_share
            .map_or("–".to_owned(), crate::fmt::percent),
        g.overall.counted,
        rule.join(", ")
    ))
}

/// Renders the capacity `report.json`: the [`CapacityReport`] as it is (see
/// `docs/report-format.md`, "Capacity runs").
pub fn render_capacity_json(report: &CapacityReport) -> Result<String, ReportError> {
    serde_json::to_string_pretty(report).map_err(|source| ReportError::Json {
        path: std::path::PathBuf::new(),
        source,
    })
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("–".to_owned(), |v| format!("{v:.0}"))
}

fn verdict(p: &ProbeReport) -> String {
    match p.verdict {
        ProbeVerdict::Pass => "pass".to_owned(),
        ProbeVerdict::Indeterminate => format!(
            "undecided ({})",
            p.undecided
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ProbeVerdict::Fail if p.service_rate.is_some() => {
            "overload (service rate measured)".to_owned()
        }
        ProbeVerdict::Fail => format!(
            "fail ({})",
            p.failed
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// "Service rate under overload: 1.765/s (95% interval 1.6–1.9/s), 160 answers in 90.6 s."
fn service_rate_line(r: &CapacityReport) -> Option<String> {
    r.service_rate.map(|s| {
        format!(
            "Service rate under overload: {:.3}/s (95% interval {:.3}–{:.3}/s), {} answers in {:.1} s while the queue could not empty.",
            s.per_s, s.low_per_s, s.high_per_s, s.completions, s.window_s
        )
    })
}

/// The slots model and the preferred model, one sentence each.
fn slots_lines(r: &CapacityReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(f) = &r.slots_fit {
        // The slot count is claimed only when measured levels lie past the knee.
        let knee = if f.shows_slots() {
            format!(
                "reached at N ≈ {:.1} (the bot's slots: {} measured levels lie past it, on the ceiling)",
                f.slots, f.plateau_points
            )
        } else {
            format!(
                "a knee at N ≈ {:.1} that the data do not show (fewer than {} measured levels lie past it), so no slot count is claimed: the bot may have no slot limit, or more slots than were tried",
                f.slots,
                perf_core::record::SlotsFit::MIN_PLATEAU_POINTS
            )
        };
        lines.push(format!(
            "Slots model X(N) = min(λN, C): λ = {:.3} ({:.3}–{:.3}), C = {:.3}/s ({:.3}–{:.3}), {knee}, R² = {:.3}.",
            f.lambda.value,
            f.lambda.low,
            f.lambda.high,
            f.ceiling.value,
            f.ceiling.low,
            f.ceiling.high,
            f.r_squared
        ));
        if let Some(h) = &f.holdout {
            lines.push(format!(
                "Held-out check (slots model): at concurrency {:.1} the fit without that point predicted {:.3}/s, measured {:.3}/s ({:.1}% off).",
                h.concurrency, h.predicted, h.measured, h.relative_error * 100.0
            ));
        }
    }
    if let Some(m) = &r.preferred_model {
        lines.push(format!("Model to predict with: {m}."));
    }
    lines
}

fn probe_rows(r: &CapacityReport) -> Vec<[String; 9]> {
    r.probes
        .iter()
        .map(|p| {
            [
                format!("{:.3}", p.rate),
                format!("{:.1}", p.duration_s),
                format!("{:.3}", p.throughput_per_s),
                format!("{:.3}", p.goodput_per_s),
                opt_ms(p.latency_p50_ms),
                opt_ms(p.latency_p95_ms),
                opt_ms(p.latency_p99_ms),
                opt_ms(p.ttft_p95_ms),
                verdict(p),
            ]
        })
        .collect()
}

const PROBE_HEADER: [&str; 9] = [
    "offered /s",
    "seconds",
    "throughput /s",
    "goodput /s",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "TTFT p95 ms",
    "verdict",
];

/// Renders `summary.md` of a capacity run.
pub fn render_capacity_markdown(r: &CapacityReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Capacity of {}\n", escape::markdown(&r.target.name));
    let _ = writeln!(out, "**{}**\n", escape::markdown(&r.summary));
    let _ = writeln!(
        out,
        "Stopped because: {}\n",
        escape::markdown(&r.stop_reason)
    );
    let _ = writeln!(out, "| {} |", PROBE_HEADER.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(PROBE_HEADER.len()));
    for row in probe_rows(r) {
        let row: Vec<String> = row.iter().map(|c| escape::markdown(c)).collect();
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if let Some(line) = service_rate_line(r) {
        let _ = writeln!(out, "\n{line}");
    }
    if let Some(k) = &r.knee {
        let _ = writeln!(
            out,
            "\nKnee: throughput stops following the offered load at about {:.3}/s ({:.3}/s served).",
            k.offered_per_s, k.throughput_per_s
        );
    }
    if !r.per_agent_capacity.is_empty() {
        let _ = writeln!(out, "\n| agent | capacity under the mix /s |\n|---|---|");
        for (a, c) in &r.per_agent_capacity {
            let _ = writeln!(out, "| {} | {c:.3} |", escape::markdown(a));
        }
    }
    match (&r.usl, &r.usl_refused) {
        (Some(u), _) => {
            let _ = writeln!(
                out,
                "\nUSL: λ = {:.3} ({:.3}–{:.3}), σ = {:.4} ({:.4}–{:.4}), κ = {:.5} ({:.5}–{:.5}), R² = {:.3}",
                u.lambda.value, u.lambda.low, u.lambda.high, u.sigma.value, u.sigma.low,
                u.sigma.high, u.kappa.value, u.kappa.low, u.kappa.high, u.r_squared
            );
            if let (Some(n), Some(x)) = (u.peak_concurrency, u.peak_throughput) {
                let _ = writeln!(out, "Predicted peak: {x:.3}/s at concurrency {n:.1}.");
            } else if let Some(x) = u.peak_throughput {
                let _ = writeln!(out, "Predicted ceiling (no peak, κ ≈ 0): {x:.3}/s.");
            }
            if let Some(h) = &u.holdout {
                let _ = writeln!(
                    out,
                    "Held-out check: at concurrency {:.1} the fit without that point predicted {:.3}/s, measured {:.3}/s ({:.1}% off).",
                    h.concurrency, h.predicted, h.measured, h.relative_error * 100.0
                );
            }
        }
        (None, Some(why)) => {
            let _ = writeln!(out, "\n{}", escape::markdown(why));
        }
        (None, None) => {}
    }
    for line in slots_lines(r) {
        let _ = writeln!(out, "\n{}", escape::markdown(&line));
    }
    for n in &r.notes {
        let _ = writeln!(out, "\n> {}", escape::markdown(n));
    }
    out
}

/// The capacity table for a terminal (no colour).
pub fn render_capacity_terminal(r: &CapacityReport) -> String {
    let rows = probe_rows(r);
    let mut widths: Vec<usize> = PROBE_HEADER.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(
        out,
        "{}",
        line(PROBE_HEADER.iter().map(|s| s.to_string()).collect())
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{}",
            line(row.iter().map(|c| escape::terminal(c)).collect())
        );
    }
    let _ = writeln!(out, "\n{}", escape::terminal(&r.summary));
    let _ = writeln!(out, "stopped: {}", escape::terminal(&r.stop_reason));
    if let Some(line) = service_rate_line(r) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(u) = &r.usl {
        let _ = writeln!(
            out,
            "USL: σ = {:.4} ± {:.4}, κ = {:.5} ± {:.5}{}",
            u.sigma.value,
            u.sigma.std_error,
            u.kappa.value,
            u.kappa.std_error,
            match (u.peak_concurrency, u.peak_throughput) {
                (Some(n), Some(x)) => format!(", peak {x:.3}/s at N = {n:.1}"),
                (None, Some(x)) => format!(", ceiling {x:.3}/s"),
                _ => String::new(),
            }
        );
    }
    for line in slots_lines(r) {
        let _ = writeln!(out, "{}", escape::terminal(&line));
    }
    out
}

/// Renders `report.html` of a capacity run: self-contained, no script, the report's
/// Content-Security-Policy.
pub fn render_capacity_html(r: &CapacityReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{}"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><title>Capacity — {}</title><style>{}</style></head><body>"#,
        crate::CONTENT_SECURITY_POLICY,
        escape::html(&r.target.name),
        crate::style::CSS
    );
    let _ = write!(
        out,
        "<h1>Capacity of {}</h1><p><strong>{}</strong></p><p>Stopped because: {}</p>",
        escape::html(&r.target.name),
        escape::html(&r.summary),
        escape::html(&r.stop_reason)
    );
    let mut probes: Vec<&ProbeReport> = r.probes.iter().collect();
    probes.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let pts = |f: &dyn Fn(&ProbeReport) -> Option<f64>| -> Vec<(f64, f64)> {
        probes
            .iter()
            .filter_map(|p| f(p).map(|y| (p.rate, y)))
            .collect()
    };
    let latency = LineChart {
        title: "Latency percentiles against offered load".to_owned(),
        x_label: "offered queries/s".to_owned(),
        y_label: "ms".to_owned(),
        series: vec![
            Series::new("p50", GREEN, pts(&|p| p.latency_p50_ms)),
            Series::new("p95", ORANGE, pts(&|p| p.latency_p95_ms)),
            Series::new("p99", RED, pts(&|p| p.latency_p99_ms)),
        ],
        ..LineChart::default()
    };
    let mut diagonal = Series::new("offered", GREY, pts(&|p| Some(p.rate)));
    diagonal.dashed = true;
    let goodput = LineChart {
        title: "Throughput and goodput against offered load".to_owned(),
        x_label: "offered queries/s".to_owned(),
        y_label: "queries/s".to_owned(),
        series: vec![
            Series::new("throughput", BLUE, pts(&|p| Some(p.throughput_per_s))),
            Series::new("goodput", GREEN, pts(&|p| Some(p.goodput_per_s))),
            diagonal,
        ],
        ..LineChart::default()
    };
    out.push_str("<section><h2>Probes</h2>");
    out.push_str(&latency.render());
    out.push_str(&goodput.render());
    if let Some(line) = service_rate_line(r) {
        let _ = write!(out, "<p>{}</p>", escape::html(&line));
    }
    if let Some(k) = &r.knee {
        let _ = write!(
            out,
            "<p>Knee: throughput stops following the offered load at about {:.3}/s ({:.3}/s served).</p>",
            k.offered_per_s, k.throughput_per_s
        );
    }
    out.push_str("<table><thead><tr>");
    for h in PROBE_HEADER {
        let _ = write!(out, "<th>{}</th>", escape::html(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in probe_rows(r) {
        out.push_str("<tr>");
        for c in row {
            let _ = write!(out, "<td>{}</td>", escape::html(&c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
    if let Some(u) = &r.usl {
        let max_n = u
            .points
            .iter()
            .map(|p| p.concurrency)
            .fold(1.0f64, f64::max)
            .max(u.peak_concurrency.unwrap_or(0.0))
            * 1.3;
        let curve: Vec<(f64, f64)> = (0..=80)
            .map(|i| {
                let n = 1.0 + (max_n - 1.0).max(0.0) * i as f64 / 80.0;
                (n, u.predict(n))
            })
            .collect();
        let measured: Vec<(f64, f64)> = u
            .points
            .iter()
            .map(|p| (p.concurrency, p.throughput))
            .collect();
        let mut series = vec![
            Series::new("USL fit", BLUE, curve),
            Series::new("measured", ORANGE, measured),
        ];
        if let Some(f) = &r.slots_fit {
            let slots: Vec<(f64, f64)> = (0..=80)
                .map(|i| {
                    let n = 1.0 + (max_n - 1.0).max(0.0) * i as f64 / 80.0;
                    (n, f.predict(n))
                })
                .collect();
            series.push(Series::new("slots model", GREEN, slots));
        }
        if let (Some(n), Some(x)) = (u.peak_concurrency, u.peak_throughput) {
            let mut knee = Series::new(format!("peak N* = {n:.1}"), RED, vec![(n, 0.0), (n, x)]);
            knee.dashed = true;
            series.push(knee);
        }
        let chart = LineChart {
            title: "Universal Scalability Law: throughput against concurrency".to_owned(),
            x_label: "concurrency N".to_owned(),
            y_label: "queries/s".to_owned(),
            series,
            ..LineChart::default()
        };
        out.push_str("<section><h2>Prediction</h2>");
        out.push_str(&chart.render());
        let _ = write!(
            out,
            "<p>σ = {:.4} ({:.4}–{:.4}), κ = {:.5} ({:.5}–{:.5}), λ = {:.3}/s, R² = {:.3}.</p>",
            u.sigma.value,
            u.sigma.low,
            u.sigma.high,
            u.kappa.value,
            u.kappa.low,
            u.kappa.high,
            u.lambda.value,
            u.r_squared
        );
        if let Some(h) = &u.holdout {
            let _ = write!(
                out,
                "<p>Held out: at N = {:.1} the fit without it predicted {:.3}/s, measured {:.3}/s ({:.1}% off).</p>",
                h.concurrency,
                h.predicted,
                h.measured,
                h.relative_error * 100.0
            );
        }
        for line in slots_lines(r) {
            let _ = write!(out, "<p>{}</p>", escape::html(&line));
        }
        out.push_str("</section>");
    } else if let Some(why) = &r.usl_refused {
        let _ = write!(
            out,
            "<section><h2>Prediction</h2><p>{}</p></section>",
            escape::html(why)
        );
    }
    for n in &r.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape::html(n));
    }
    out.push_str("</body></html>\n");
    out
}

/// Writes `report.json`, `summary.md` and `report.html` of a capacity run into `dir`.
pub fn write_capacity_reports(dir: &Path, r: &CapacityReport) -> Result<(), ReportError> {
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io("creating", dir, e))?;
    crate::runs::write_atomic(
        &dir.join("report.json"),
        render_capacity_json(r)?.as_bytes(),
    )?;
    crate::runs::write_atomic(
        &dir.join("summary.md"),
        render_capacity_markdown(r).as_bytes(),
    )?;
    crate::runs::write_atomic(&dir.join("report.html"), render_capacity_html(r).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::record::{CapacityAnswer, Limit, Slos, UslPoint};
    use perf_core::TargetInfo;

    fn report() -> CapacityReport {
        let probe = |rate: f64, tput: f64, verdict: ProbeVerdict| ProbeReport {
            count: 100,
            throughput_per_s: tput,
            goodput_per_s: tput * 0.8,
            latency_p50_ms: Some(1000.0),
            latency_p95_ms: Some(2000.0 * rate),
            latency_p99_ms: Some(3000.0),
            mean_concurrency: tput,
            failed: if verdict == ProbeVerdict::Fail {
                vec![Limit::Saturated]
            } else {
                Vec::new()
            },
            ..ProbeReport::new(rate, 10.0, verdict)
        };
        CapacityReport {
            format_version: perf_core::record::CAPACITY_FORMAT_VERSION,
            run_id: "capacity-x".into(),
            started_at: String::new(),
            target: TargetInfo {
                name: "<bot>".into(),
                ..TargetInfo::default()
            },
            slos: Slos::default(),
            answer: CapacityAnswer::Found {
                rate: 2.0,
                low: 2.0,
                high: Some(2.1),
            },
            stop_reason: "the bracket closed".into(),
            summary: "capacity 2.000 queries/s".into(),
            limited_by: vec![Limit::Saturated],
            knee: None,
            per_agent_capacity: [("a".to_owned(), 1.0)].into_iter().collect(),
            probes: vec![
                probe(1.0, 1.0, ProbeVerdict::Pass),
                probe(2.0, 2.0, ProbeVerdict::Pass),
                probe(4.0, 2.1, ProbeVerdict::Fail),
            ],
            service_rate: None,
            sweep: Vec::new(),
            usl: perf_baseline_free_fit(),
            usl_refused: None,
            slots_fit: None,
            preferred_model: None,
            wall_time_s: 1.0,
            notes: vec!["a <note>".into()],
        }
    }

    /// A USL "fit" built by hand (perf-report does not depend on the fitting crate).
    fn perf_baseline_free_fit() -> Option<perf_core::record::UslFit> {
        let e = |v: f64| perf_core::record::Estimate {
            value: v,
            std_error: 0.0,
            low: v,
            high: v,
        };
        Some(perf_core::record::UslFit {
            lambda: e(1.0),
            sigma: e(0.05),
            kappa: e(0.01),
            peak_concurrency: Some(((1.0f64 - 0.05) / 0.01).sqrt()),
            peak_throughput: Some(perf_core::record::usl(1.0, 0.05, 0.01, (95.0f64).sqrt())),
            r_squared: 0.99,
            points: (1..=5)
                .map(|n| UslPoint {
                    concurrency: n as f64,
                    throughput: perf_core::record::usl(1.0, 0.05, 0.01, n as f64),
                })
                .collect(),
            holdout: None,
        })
    }

    #[test]
    fn every_renderer_shows_the_probes_and_escapes_names() {
        let r = report();
        let md = render_capacity_markdown(&r);
        assert!(
            md.contains("| 4.000 |") && md.contains("fail (saturated)"),
            "{md}"
        );
        assert!(md.contains("USL: λ = 1.000"), "{md}");
        assert!(
            !md.contains("Service rate"),
            "not measured, not shown: {md}"
        );
        let term = render_capacity_terminal(&r);
        assert!(term.contains("capacity 2.000 queries/s"), "{term}");
        let mut measured = report();
        measured.service_rate = perf_core::record::ServiceRate::from_count(100, 50.0);
        measured.probes[2].service_rate = measured.service_rate;
        let line = "Service rate under overload: 2.000/s (95% interval 1.608–2.392/s), 100 answers in 50.0 s";
        for text in [
            render_capacity_markdown(&measured),
            render_capacity_terminal(&measured),
            render_capacity_html(&measured),
        ] {
            assert!(text.contains(line), "{text}");
            assert!(text.contains("overload (service rate measured)"), "{text}");
        }
        let mut fitted = report();
        fitted.slots_fit = Some(perf_core::record::SlotsFit {
            lambda: perf_core::record::Estimate {
                value: 0.5,
                std_error: 0.01,
                low: 0.48,
                high: 0.52,
            },
            ceiling: perf_core::record::Estimate {
                value: 2.0,
                std_error: 0.05,
                low: 1.9,
                high: 2.1,
            },
            slots: 4.0,
            r_squared: 0.99,
            holdout: None,
            plateau_points: 3,
        });
        fitted.preferred_model = Some("slots: its held-out error was 1.0% against 30.0%".into());
        for text in [
            render_capacity_markdown(&fitted),
            render_capacity_terminal(&fitted),
            render_capacity_html(&fitted),
        ] {
            assert!(
                text.contains("C = 2.000/s (1.900–2.100), reached at N ≈ 4.0"),
                "{text}"
            );
            assert!(
                text.contains("Model to predict with: slots: its held-out error was 1.0%"),
                "{text}"
            );
        }
        assert!(render_capacity_html(&fitted).contains("slots model"));
        // Without levels past the knee, no slot count is claimed.
        if let Some(f) = fitted.slots_fit.as_mut() {
            f.plateau_points = 1;
        }
        let text = render_capacity_terminal(&fitted);
        assert!(
            text.contains("a knee at N ≈ 4.0 that the data do not show")
                && text.contains("no slot count is claimed")
                && !text.contains("the bot's slots"),
            "{text}"
        );
        let html = render_capacity_html(&r);
        assert!(html.contains(crate::CONTENT_SECURITY_POLICY));
        assert!(!html.contains("<bot>") && html.contains("&lt;bot&gt;"));
        assert!(!html.contains("<script"));
        assert_eq!(
            html.matches("<svg").count(),
            3,
            "latency, goodput and USL charts"
        );
        assert!(html.contains("peak N*"));
        let json: serde_json::Value =
            serde_json::from_str(&render_capacity_json(&r).unwrap()).unwrap();
        assert_eq!(json["answer"]["kind"], "found");
        assert_eq!(json["probes"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn every_run_report_shows_goodput_when_counted() {
        let mut r = perf_core::record::RunResult::new("r", "t", TargetInfo::default());
        r.goodput = Some(perf_core::record::GoodputTally::new(&Slos {
            latency_p95_ms: Some(100.0),
            ..Slos::default()
        }));
        for (i, ms) in [50u64, 60, 70, 500].into_iter().enumerate() {
            r.record(&perf_core::Sample::new(
                format!("q{i}"),
                "standard",
                "c",
                perf_core::Outcome::Ok,
                ms * 1000,
            ));
        }
        r.wall_time_s = 2.0;
        let line = goodput_line(&r).expect("counted");
        assert!(line.starts_with("goodput 1.5"), "{line}");
        assert!(
            line.contains("75") && line.contains("latency ≤ 100 ms"),
            "{line}"
        );
        assert!(crate::render_markdown(&r).contains("goodput 1.5"));
        assert!(crate::render_terminal(&r, false).contains("goodput 1.5"));
        assert!(crate::render_html(&r).contains("goodput"));
        let json = crate::render_json(&r).unwrap();
        assert!(json.contains("\"goodput\""), "{json}");
        r.goodput = None;
        assert_eq!(goodput_line(&r), None);
    }
}
