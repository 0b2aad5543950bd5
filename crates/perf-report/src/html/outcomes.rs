//! The run page's verdict sections: checks, errors, the baseline comparison, trends and
//! the run's details.

use super::*;

pub(super) fn checks_section(out: &mut String, r: &RunResult) {
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

pub(super) fn errors_section(out: &mut String, r: &RunResult) {
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

pub(super) fn comparison_section(out: &mut String, r: &RunResult) {
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

pub(super) fn trends_section(out: &mut String, r: &RunResult) {
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

pub(super) fn details_section(out: &mut String, r: &RunResult) {
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
