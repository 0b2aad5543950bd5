use std::fmt::Write as _;

use perf_core::record::{RunResult, Verdict};

use crate::escape::{markdown as md, truncate};
use crate::fmt;
use crate::model::{self, EDGE_PREFIX};
use crate::status::{overall_status, Status};

/// Failure examples shown in the summary at most.
const MAX_EXAMPLES: usize = 10;
/// Rows per table at most: GitHub comments hold 65,536 characters, so a run with
/// thousands of groups must still fit. Failing rows come first.
const MAX_ROWS: usize = 40;
/// Characters of untrusted text shown per table cell at most.
const CELL: usize = 120;

/// Characters of one note shown at most.
const NOTE: usize = 1_000;

/// Characters of one reason shown whole under a table at most: bounded, because a reason
/// can quote what a bot sent.
const WHOLE: usize = 4_000;

fn cell(s: &str) -> String {
    md(&truncate(s, CELL))
}

/// Characters of whole reasons one summary holds at most, over all its tables: GitHub
/// comments hold 65,536 characters, and a run can fail thousands of checks.
const WHOLE_BUDGET: usize = 16_000;

/// Reasons too long for a table cell: the cell shows their start, and a details block
/// under the table shows them whole, so nothing that explains a verdict is cut. Past
/// [`WHOLE_BUDGET`] the cell points at `report.html` instead.
struct Whys {
    pending: Vec<(String, String)>,
    left: usize,
}

impl Default for Whys {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
            left: WHOLE_BUDGET,
        }
    }
}

impl Whys {
    /// The cell of `reason` (of the row `name`).
    fn cell(&mut self, name: &str, reason: &str) -> String {
        let n = reason.chars().count();
        if n <= CELL {
            return md(reason);
        }
        let shown = n.min(WHOLE);
        if shown > self.left {
            return format!("{} (whole in `report.html`)", md(&truncate(reason, CELL)));
        }
        self.left -= shown;
        self.pending.push((name.to_owned(), reason.to_owned()));
        format!("{} (whole below)", md(&truncate(reason, CELL)))
    }

    /// Writes the details block of the reasons cut since the last flush.
    fn flush(&mut self, out: &mut String) {
        if self.pending.is_empty() {
            return;
        }
        out.push_str("<details><summary>Whole reasons</summary>\n\n");
        for (name, reason) in self.pending.drain(..) {
            let _ = writeln!(
                out,
                "- **{}**: {}",
                md(&truncate(&name, CELL)),
                md(&truncate(&reason, WHOLE))
            );
        }
        out.push_str("\n</details>\n\n");
    }
}

/// The line under a table that was cut to [`MAX_ROWS`].
fn more(out: &mut String, total: usize, what: &str) {
    if total > MAX_ROWS {
        let _ = writeln!(
            out,
            "\n… and {} more {what}; see `report.html`.",
            total - MAX_ROWS
        );
    }
}

/// The streaming figures of the run and of each agent: time to first token, inter-token
/// latency, time per output token and output tokens per second.
fn streaming(out: &mut String, result: &RunResult) {
    let w = result.wall_time_s;
    out.push_str("### Streaming\n\n| Group | Streamed | TTFT p50 | TTFT p95 | ITL p50 | TPOT p50 | Output tok/s |\n|---|--:|--:|--:|--:|--:|--:|\n");
    let rows = std::iter::once(("overall".to_owned(), &result.overall)).chain(
        result
            .per_agent
            .iter()
            .map(|(k, g)| (format!("agent {}", truncate(k, CELL)), g)),
    );
    for (label, g) in rows.take(MAX_ROWS + 1) {
        let _ = writeln!(
            out,
            "| {} | {} of {} | {} | {} | {} | {} | {} |",
            md(&label),
            fmt::count(g.ttft.count()),
            fmt::count(g.count),
            model::pct_ms(&g.ttft, 50.0),
            model::pct_ms(&g.ttft, 95.0),
            model::pct_ms(&g.itl, 50.0),
            model::pct_ms(&g.tpot, 50.0),
            model::tokens_per_s_text(g, w),
        );
    }
    more(out, result.per_agent.len(), "agents");
    out.push_str("\nTTFT from the query's actual start; ITL is each answer's mean gap between streamed pieces; TPOT is (last token − first token) / (tokens − 1); output tok/s is all answers' tokens over the run's wall time.\n\n");
}

/// Renders `summary.md`: a compact Markdown summary for a pull-request comment or a CI job
/// summary. The verdict comes first, then the key numbers per critical path, regressions
/// with their change and interval, and robustness failures. All text from queries, bots
/// and configuration is escaped.
pub fn render_markdown(result: &RunResult) -> String {
    let status = overall_status(result);
    let mut out = String::new();
    let mut whys = Whys::default();
    let icon = match status.status {
        Status::Pass => "✅",
        Status::Warn => "⚠️",
        Status::Fail => "❌",
    };
    let _ = writeln!(
        out,
        "## {icon} {}{} — performance run {}\n",
        status.status.label(),
        if status.interrupted {
            " (interrupted)"
        } else {
            ""
        },
        cell(&result.run_id)
    );
    for reason in &status.reasons {
        let _ = writeln!(out, "- {}", md(reason));
    }
    if !status.reasons.is_empty() {
        out.push('\n');
    }
    let o = result.overall.summary(result.wall_time_s);
    let _ = writeln!(
        out,
        "**{}** queries · **{}** ok · p50 {} · p95 {} · p99 {} · {} q/s · {:.1} s · target {} ({})\n",
        fmt::count(o.count),
        fmt::percent(o.success_rate),
        fmt::ms(o.latency.p50_ms),
        fmt::ms(o.latency.p95_ms),
        fmt::ms(o.latency.p99_ms),
        fmt::num(o.throughput_per_s),
        result.wall_time_s,
        cell(&result.target.name),
        cell(result.target.transport.as_str()),
    );
    if let Some(line) = crate::capacity::goodput_line(result) {
        let _ = writeln!(out, "{}\n", md(&line));
    }
    // Notes whole (they are not in a table), bounded: a note can quote a bot.
    for note in status.notes.iter().take(MAX_ROWS) {
        let _ = writeln!(out, "> **Note:** {}", md(&truncate(note, NOTE)));
    }
    if !status.notes.is_empty() {
        out.push('\n');
    }
    if let Some(line) = crate::shards::shard_line(result) {
        let _ = writeln!(out, "> {}\n", cell(&line));
    }
    if let Some((title, rows)) = crate::shards::shard_table(result) {
        let _ = writeln!(out, "### {}\n", cell(&title));
        let head: Vec<&str> = crate::shards::SHARD_HEADER
            .iter()
            .map(|c| c.trim_start_matches('#'))
            .collect();
        let _ = writeln!(
            out,
            "| {} |\n|---|---|--:|--:|--:|--:|--:|---|",
            head.join(" | ")
        );
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out.push('\n');
    }

    if let Some(rows) = crate::discord::discord_rows(result) {
        let _ = writeln!(
            out,
            "### {}\n\n| Figure | Value |\n|---|---|",
            crate::discord::TITLE
        );
        for (k, v) in rows {
            let _ = writeln!(out, "| {k} | {} |", cell(&v));
        }
        out.push('\n');
    }

    // Critical paths, or the per-agent figures when the run named none.
    let paths = model::critical_paths(result);
    if !paths.is_empty() {
        out.push_str("### Critical paths\n\n| Path | Result | Queries | Success | p50 | p95 | p99 | Why |\n|---|---|--:|--:|--:|--:|--:|---|\n");
        let mut ordered: Vec<_> = paths.iter().collect();
        // Failing paths first; the sort is stable, so check order holds within each half.
        ordered.sort_by_key(|p| p.check.status != perf_core::record::CheckStatus::Failed);
        for p in ordered.iter().take(MAX_ROWS) {
            let (count, rate, p50, p95, p99) = match p.stats {
                Some((_, g)) => {
                    let l = g.latency.summary();
                    (
                        fmt::count(g.count),
                        fmt::percent(g.success_rate()),
                        fmt::ms(l.p50_ms),
                        fmt::ms(l.p95_ms),
                        fmt::ms(l.p99_ms),
                    )
                }
                None => ("0".into(), "n/a".into(), "–".into(), "–".into(), "–".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {count} | {rate} | {p50} | {p95} | {p99} | {} |",
                cell(&p.check.name),
                check_mark(p.check),
                whys.cell(&p.check.name, &p.check.reason)
            );
        }
        more(&mut out, paths.len(), "critical paths");
        out.push('\n');
        whys.flush(&mut out);
    } else if !result.per_agent.is_empty() {
        out.push_str("### Per agent\n\n| Agent | Queries | Success | p50 | p95 | p99 |\n|---|--:|--:|--:|--:|--:|\n");
        for (name, g) in result.per_agent.iter().take(MAX_ROWS) {
            let l = g.latency.summary();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(name),
                fmt::count(g.count),
                fmt::percent(g.success_rate()),
                fmt::ms(l.p50_ms),
                fmt::ms(l.p95_ms),
                fmt::ms(l.p99_ms)
            );
        }
        more(&mut out, result.per_agent.len(), "agents");
        out.push('\n');
    }

    if model::has_streaming(result) {
        streaming(&mut out, result);
    }

    // Other failed checks (gates and the like).
    let other_failed: Vec<_> = result
        .checks
        .iter()
        .filter(|c| !c.passed() && c.group != model::CRITICAL_PATH && c.group != model::ROBUSTNESS)
        .collect();
    let other_unmeasured = other_failed.iter().filter(|c| c.unmeasured()).count();
    let other_total = result
        .checks
        .iter()
        .filter(|c| c.group != model::CRITICAL_PATH && c.group != model::ROBUSTNESS)
        .count();
    if other_total > 0 {
        let _ = write!(
            out,
            "### Checks\n\n{} of {} passed",
            other_total - other_failed.len(),
            other_total
        );
        if other_unmeasured > 0 {
            let _ = write!(out, ", {other_unmeasured} not measured");
        }
        out.push_str(".\n\n");
        if !other_failed.is_empty() {
            out.push_str("| Check | Result | Why |\n|---|---|---|\n");
            // Failures first; the sort is stable.
            let mut ordered = other_failed.clone();
            ordered.sort_by_key(|c| c.unmeasured());
            for c in ordered.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {}/{} | {} | {} |",
                    cell(c.group.as_str()),
                    cell(&c.name),
                    check_mark(c),
                    whys.cell(&format!("{}/{}", c.group.as_str(), c.name), &c.reason)
                );
            }
            more(&mut out, other_failed.len(), "checks not passed");
            out.push('\n');
            whys.flush(&mut out);
        }
    }

    // Baseline comparison.
    if let Some(c) = &result.comparison {
        let regressions: Vec<_> = c
            .verdicts
            .iter()
            .filter(|v| v.verdict == Verdict::Regression)
            .collect();
        let count = |v: Verdict| c.verdicts.iter().filter(|m| m.verdict == v).count();
        let _ = writeln!(
            out,
            "### Baseline {}: {}\n\n{} metrics: {} regression, {} improvement, {} inconclusive, {} pass.\n",
            cell(&c.baseline),
            c.overall,
            c.verdicts.len(),
            count(Verdict::Regression),
            count(Verdict::Improvement),
            count(Verdict::Inconclusive),
            count(Verdict::Pass),
        );
        if !regressions.is_empty() {
            out.push_str("| Group | Metric | Baseline | Current | Change | Interval | p |\n|---|---|--:|--:|--:|---|--:|\n");
            for v in regressions.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | **{}** | {} | {} |",
                    cell(&v.key),
                    cell(&v.metric),
                    fmt::metric_value(&v.metric, v.baseline),
                    fmt::metric_value(&v.metric, v.current),
                    fmt::change(&v.metric, v.relative_change),
                    fmt::interval(&v.metric, v.interval),
                    v.p_value.map_or("–".to_owned(), |p| format!("{p:.3}")),
                );
            }
            more(&mut out, regressions.len(), "regressions");
            out.push('\n');
        }
        for d in &c.environment_differences {
            let _ = writeln!(out, "- Environment differs: {}", cell(d));
        }
        if !c.environment_differences.is_empty() {
            out.push('\n');
        }
    }

    // Robustness.
    let classes = model::robustness(result);
    if !classes.is_empty() {
        let failed: Vec<_> = classes.iter().filter(|c| c.failed()).collect();
        let _ = writeln!(
            out,
            "### Robustness: {} of {} classes handled\n",
            classes.len() - failed.len(),
            classes.len()
        );
        if !failed.is_empty() {
            out.push_str("| Class | Failures | Outcomes | Why |\n|---|--:|---|---|\n");
            for c in failed.iter().take(MAX_ROWS) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    cell(c.class),
                    c.stats.map_or("–".to_owned(), |g| format!(
                        "{} of {}",
                        fmt::count(g.failures()),
                        fmt::count(g.count)
                    )),
                    c.stats
                        .map_or("–".to_owned(), |g| cell(&model::outcomes_line(g))),
                    c.check
                        .map_or("–".to_owned(), |k| whys.cell(c.class, &k.reason)),
                );
            }
            more(&mut out, failed.len(), "failed classes");
            out.push('\n');
            if let Some(rule) = perf_core::record::CheckGroup::Robustness.rule() {
                let _ = writeln!(out, "Rule: {}.\n", md(rule));
            }
            whys.flush(&mut out);
            let examples: Vec<_> = result
                .failure_examples
                .iter()
                .filter(|s| s.category.starts_with(EDGE_PREFIX))
                .take(MAX_EXAMPLES)
                .collect();
            if !examples.is_empty() {
                out.push_str("<details><summary>Examples</summary>\n\n| Query | Class | Outcome | Error or failed expectation |\n|---|---|---|---|\n");
                for s in examples {
                    let detail = s.error.clone().unwrap_or_else(|| {
                        s.failed_expectations
                            .iter()
                            .map(|f| format!("{}: {}", f.expectation, f.detail))
                            .collect::<Vec<_>>()
                            .join("; ")
                    });
                    let _ = writeln!(
                        out,
                        "| {} | {} | {} | {} |",
                        cell(&s.query_id),
                        cell(s.category.strip_prefix(EDGE_PREFIX).unwrap_or(&s.category)),
                        cell(&s.outcome.label()),
                        cell(&detail)
                    );
                }
                out.push_str("\n</details>\n\n");
            }
        }
    }

    let forecasts = crate::fmt::forecast_lines(result);
    if !forecasts.is_empty() {
        out.push_str("### Forecasts\n\n");
        for line in &forecasts {
            let _ = writeln!(out, "- {}", md(&truncate(line, 300)));
        }
        out.push('\n');
    }

    if result.overall.failures() > 0 {
        let _ = writeln!(
            out,
            "Failures by outcome: {}.\n",
            md(&model::outcomes_line(&result.overall))
        );
    }
    out.push_str("Full report: `report.html` · data: `report.json`\n");
    out
}

/// A check's mark: `✅ pass`, `❌ fail` or `⏭️ SKIP (not measured)`.
fn check_mark(c: &perf_core::record::CheckResult) -> &'static str {
    match c.status {
        perf_core::record::CheckStatus::Passed => "✅ pass",
        perf_core::record::CheckStatus::Failed => "❌ fail",
        perf_core::record::CheckStatus::NotMeasured => "⏭️ SKIP (not measured)",
    }
}
