//! The run page's load sections: the bot's resources and its agents.

use super::*;

pub(super) fn resources_section(out: &mut String, r: &RunResult) {
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
pub(super) fn busiest<'a, T>(
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

pub(super) fn agents_section(out: &mut String, r: &RunResult) {
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
