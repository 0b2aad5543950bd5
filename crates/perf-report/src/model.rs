//! Views derived from a `RunResult` that several reports share, so they agree.

use perf_core::record::{CheckResult, GroupStats, RunResult};

/// Check group of critical paths.
pub(crate) const CRITICAL_PATH: perf_core::record::CheckGroup =
    perf_core::record::CheckGroup::CriticalPath;
/// Check group of robustness classes.
pub(crate) const ROBUSTNESS: perf_core::record::CheckGroup =
    perf_core::record::CheckGroup::Robustness;
/// Prefix of the categories of edge-case robustness classes.
pub(crate) const EDGE_PREFIX: &str = "edge:";

/// A critical path with its check and the group of samples its figures come from.
#[derive(Debug)]
pub(crate) struct CriticalPath<'a> {
    pub(crate) check: &'a CheckResult,
    /// `(source, stats)`: `category`, `agent` or `scenario`, the first that has the name.
    pub(crate) stats: Option<(&'static str, &'a GroupStats)>,
}

/// Critical paths named by checks of group `critical_path`, in check order. Their figures
/// come from the category of that name, else the agent, else the scenario.
pub(crate) fn critical_paths(r: &RunResult) -> Vec<CriticalPath<'_>> {
    r.checks
        .iter()
        .filter(|c| c.group == CRITICAL_PATH)
        .map(|c| CriticalPath {
            check: c,
            stats: lookup(r, &c.name),
        })
        .collect()
}

pub(crate) fn lookup<'a>(r: &'a RunResult, name: &str) -> Option<(&'static str, &'a GroupStats)> {
    // The order perf-baseline's critical-path checks judge by, so figures match reasons.
    r.per_category
        .get(name)
        .map(|g| ("category", g))
        .or_else(|| r.per_agent.get(name).map(|g| ("agent", g)))
        .or_else(|| r.per_scenario.get(name).map(|g| ("scenario", g)))
}

/// One robustness class: an `edge:<class>` category and its check, if one was made.
#[derive(Debug)]
pub(crate) struct RobustnessClass<'a> {
    pub(crate) class: &'a str,
    pub(crate) stats: Option<&'a GroupStats>,
    pub(crate) check: Option<&'a CheckResult>,
}

impl RobustnessClass<'_> {
    /// Failed when its check failed, or (with no check) when any of its samples failed.
    pub(crate) fn failed(&self) -> bool {
        match self.check {
            Some(c) => c.failed(),
            None => self.stats.is_some_and(|g| g.failures() > 0),
        }
    }
}

/// Every robustness class: `edge:<class>` categories merged with `robustness` checks, by
/// name.
pub(crate) fn robustness(r: &RunResult) -> Vec<RobustnessClass<'_>> {
    let mut out: Vec<RobustnessClass<'_>> = r
        .per_category
        .iter()
        .filter_map(|(k, g)| {
            // `edge:<class>:<part>` (a class's health probes, the probes' controls) is part
            // of a class that its check judges, not a class of its own.
            let class = k.strip_prefix(EDGE_PREFIX).filter(|c| !c.contains(':'))?;
            Some(RobustnessClass {
                class,
                stats: Some(g),
                check: None,
            })
        })
        .collect();
    // An index keeps this linear in classes plus checks.
    let mut index: std::collections::HashMap<&str, usize> =
        out.iter().enumerate().map(|(i, e)| (e.class, i)).collect();
    for c in r.checks.iter().filter(|c| c.group == ROBUSTNESS) {
        let name = c.name.strip_prefix(EDGE_PREFIX).unwrap_or(&c.name);
        match index.get(name) {
            Some(&i) => out[i].check = Some(c),
            None => {
                index.insert(name, out.len());
                out.push(RobustnessClass {
                    class: name,
                    stats: None,
                    check: Some(c),
                });
            }
        }
    }
    out
}

/// The failing outcomes of a group, most frequent first: `(label, count)`.
pub(crate) fn failing_outcomes(g: &GroupStats) -> Vec<(&str, u64)> {
    let mut v: Vec<(&str, u64)> = g
        .outcomes
        .iter()
        .filter(|(k, n)| k.as_str() != "ok" && **n > 0)
        .map(|(k, n)| (k.as_str(), *n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// `error:timeout ×3, timeout ×1`.
pub(crate) fn outcomes_line(g: &GroupStats) -> String {
    let v = failing_outcomes(g);
    if v.is_empty() {
        return "none".to_owned();
    }
    v.iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Queries sent per second of wall time (dropped ones were never sent), 0 without time.
pub(crate) fn throughput(g: &GroupStats, wall_time_s: f64) -> f64 {
    if wall_time_s > 0.0 {
        (g.count - g.outcome_count("dropped")) as f64 / wall_time_s
    } else {
        0.0
    }
}

/// Output tokens per second of wall time, as `GroupSummary::output_tokens_per_s` has it:
/// `None` when no answer had a token count or there was no wall time.
pub(crate) fn output_tokens_per_s(g: &GroupStats, wall_time_s: f64) -> Option<f64> {
    (g.token_counted > 0 && wall_time_s > 0.0).then(|| g.output_tokens as f64 / wall_time_s)
}

/// Whether a run has streaming figures to show: some answer was streamed or had a token
/// count. A run without either renders exactly as before streaming existed.
pub(crate) fn has_streaming(r: &RunResult) -> bool {
    r.overall.is_streaming() || r.overall.token_counted > 0
}

/// A percentile of a histogram in ms, or `–` when it recorded nothing (a group that did
/// not stream has no time to first token, which is not 0 ms).
pub(crate) fn pct_ms(h: &perf_core::LatencyHistogram, p: f64) -> String {
    if h.is_empty() {
        "–".to_owned()
    } else {
        crate::fmt::ms(h.percentile_micros(p) as f64 / 1000.0)
    }
}

/// Output tokens per second as text, `–` when unknown.
pub(crate) fn tokens_per_s_text(g: &GroupStats, wall_time_s: f64) -> String {
    output_tokens_per_s(g, wall_time_s).map_or("–".to_owned(), crate::fmt::num)
}
