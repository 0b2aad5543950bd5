use std::fmt::Write as _;
use std::io::IsTerminal as _;

use perf_core::record::{GroupStats, RunResult, Verdict};

use crate::escape::{terminal as term, truncate};
use crate::fmt;
use crate::status::{overall_status, Status};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";

/// Whether the terminal summary should use colours: stdout is a terminal and `NO_COLOR`
/// is unset or empty (<https://no-color.org>).
pub fn color_enabled() -> bool {
    wants_color(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stdout().is_terminal(),
    )
}

fn wants_color(no_color: Option<&std::ffi::OsStr>, stdout_is_terminal: bool) -> bool {
    let no_color = no_color.is_some_and(|v| !v.is_empty());
    !no_color && stdout_is_terminal
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("{code}{s}{RESET}")
        } else {
            s.to_owned()
        }
    }
}

/// The longest reason or note the terminal prints on one line, in characters; the whole
/// text is one flag (`verbose`) or one file (`full_text`) away.
const LINE_CHARS: usize = 160;

/// The most a verbose terminal prints of one reason: bounded, because a reason can quote
/// what a bot sent.
const VERBOSE_CHARS: usize = 4_000;

/// What the terminal summary shows, beyond the default.
#[derive(Debug, Clone, Default)]
pub struct TerminalOptions {
    /// ANSI colours (see [`color_enabled`]).
    pub color: bool,
    /// Reasons and notes whole instead of one line each, and a row per query category.
    pub verbose: bool,
    /// The file that holds every reason whole (the run's `summary.md`), named when a
    /// line was shortened.
    pub full_text: Option<std::path::PathBuf>,
}

/// Renders the terminal summary the binaries print with the default options (see
/// [`render_terminal_with`]). `color` adds ANSI colours (see [`color_enabled`]).
pub fn render_terminal(result: &RunResult, color: bool) -> String {
    render_terminal_with(
        result,
        &TerminalOptions {
            color,
            ..TerminalOptions::default()
        },
    )
}

/// Renders the terminal summary: a verdict line, the run's key figures, a table per
/// group (overall, agents, scenarios; categories when verbose), checks with one line of
/// reason each, the baseline comparison and a legend of the terms used. Untrusted text
/// is stripped of escape sequences and control characters.
pub fn render_terminal_with(result: &RunResult, opts: &TerminalOptions) -> String {
    let p = Paint { on: opts.color };
    let limit = if opts.verbose {
        VERBOSE_CHARS
    } else {
        LINE_CHARS
    };
    let mut shortened = 0usize;
    let mut one_line = |s: &str| {
        if s.chars().count() > limit {
            shortened += 1;
        }
        term(&truncate(s, limit))
    };
    let status = overall_status(result);
    let mut out = String::new();
    let code = match status.status {
        Status::Pass => GREEN,
        Status::Warn => YELLOW,
        Status::Fail => RED,
    };
    let mut verdict_line = String::new();
    if !status.reasons.is_empty() {
        verdict_line.push_str(&status.reasons.join("; "));
        verdict_line.push_str(" — ");
    }
    let _ = write!(
        verdict_line,
        "{} queries, {} ok",
        fmt::count(status.total),
        fmt::percent(status.success_rate)
    );
    let _ = writeln!(
        out,
        "{} {}",
        p.wrap(
            &format!("{BOLD}{code}"),
            &format!(" {} ", status.status.label())
        ),
        term(&verdict_line)
    );
    let _ = writeln!(
        out,
        "{}",
        p.wrap(
            DIM,
            &format!(
                "run {} · target {} ({}) · started {} · {:.1} s",
                term(&truncate(&result.run_id, 80)),
                term(&truncate(&result.target.name, 60)),
                term(result.target.transport.as_str()),
                term(&truncate(&result.started_at, 40)),
                result.wall_time_s
            )
        )
    );
    if let Some(line) = crate::capacity::goodput_line(result) {
        let _ = writeln!(out, "{}", term(&line));
    }
    for note in &status.notes {
        let _ = writeln!(out, "{} {}", p.wrap(YELLOW, "note:"), one_line(note));
    }
    if let Some(line) = crate::shards::shard_line(result) {
        let _ = writeln!(out, "{}", p.wrap(DIM, &term(&truncate(&line, 240))));
    }
    if let Some((title, rows)) = crate::shards::shard_table(result) {
        let _ = writeln!(out, "{}", p.wrap(BOLD, &term(&title)));
        for r in rows {
            let _ = writeln!(
                out,
                "  {:<7} {:<20} {:>8} q {:>9}/s  offset {:>9}  late {:>9}  cpu {:>6}  {}",
                term(&r[0]),
                term(&truncate(&r[1], 20)),
                term(&r[2]),
                term(&r[3]),
                term(&r[4]),
                term(&r[5]),
                term(&r[6]),
                p.wrap(YELLOW, &term(&r[7]))
            );
        }
    }
    out.push('\n');

    // Streaming columns only when something streamed (or had a token count), so a run
    // without streaming prints the same table as before.
    let ttft = result.overall.is_streaming();
    let tokens = result.overall.token_counted > 0;
    let mut header = vec![
        "group", "queries", "ok", "mean", "p50", "p95", "p99", "max", "q/s",
    ];
    if ttft {
        header.extend(["ttft p50", "ttft p95"]);
    }
    if tokens {
        header.push("tok/s");
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut push = |label: String, g: &GroupStats| {
        // Only the latency summary: the service-time one would double the cost per row.
        let l = g.latency.summary();
        let mut row = vec![
            label,
            fmt::count(g.count),
            fmt::percent(g.success_rate()),
            fmt::ms(l.mean_ms),
            fmt::ms(l.p50_ms),
            fmt::ms(l.p95_ms),
            fmt::ms(l.p99_ms),
            fmt::ms(l.max_ms),
            fmt::num(crate::model::throughput(g, result.wall_time_s)),
        ];
        if ttft {
            row.push(crate::model::pct_ms(&g.ttft, 50.0));
            row.push(crate::model::pct_ms(&g.ttft, 95.0));
        }
        if tokens {
            row.push(crate::model::tokens_per_s_text(g, result.wall_time_s));
        }
        rows.push(row);
    };
    push("overall".to_owned(), &result.overall);
    let empty = std::collections::BTreeMap::new();
    let categories = if opts.verbose {
        &result.per_category
    } else {
        &empty
    };
    for (prefix, map) in [
        ("agent", &result.per_agent),
        ("category", categories),
        ("scenario", &result.per_scenario),
    ] {
        for (k, g) in map {
            push(format!("{prefix} {}", term(&truncate(k, 40))), g);
        }
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_owned()
    };
    let head: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", p.wrap(BOLD, &line(&head)));
    for (i, r) in rows.iter().enumerate() {
        let text = line(r);
        if i == 0 {
            let _ = writeln!(out, "{}", p.wrap(BOLD, &text));
        } else {
            let _ = writeln!(out, "{text}");
        }
    }

    if !opts.verbose && !result.per_category.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            p.wrap(
                DIM,
                &format!(
                    "{} query {} not listed: --verbose lists them, report.html shows them",
                    result.per_category.len(),
                    if result.per_category.len() == 1 {
                        "category"
                    } else {
                        "categories"
                    }
                )
            )
        );
    }

    if let Some(rows) = crate::discord::discord_rows(result) {
        let _ = writeln!(out, "\n{}", p.wrap(BOLD, crate::discord::TITLE));
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<14} {}", term(&truncate(&v, 240)));
        }
    }

    if !result.checks.is_empty() {
        let passed = result.checks.iter().filter(|c| c.passed()).count();
        let unmeasured = result.checks.iter().filter(|c| c.unmeasured()).count();
        let mut head = format!("checks: {passed} of {} passed", result.checks.len());
        if unmeasured > 0 {
            head.push_str(&format!(", {unmeasured} not measured"));
        }
        let _ = writeln!(out, "\n{}", p.wrap(BOLD, &head));
        // Passed edge-case classes are one line unless verbose: there are a dozen, and
        // a pass needs no explanation.
        let folded = |c: &&perf_core::record::CheckResult| {
            !opts.verbose && c.passed() && c.group == perf_core::record::CheckGroup::Robustness
        };
        let mut folded_count = 0usize;
        for c in &result.checks {
            if folded(&c) {
                folded_count += 1;
                continue;
            }
            let mark = match c.status {
                perf_core::record::CheckStatus::Passed => p.wrap(GREEN, "✓"),
                perf_core::record::CheckStatus::Failed => p.wrap(RED, "✗"),
                perf_core::record::CheckStatus::NotMeasured => p.wrap(YELLOW, "SKIP"),
            };
            let _ = writeln!(
                out,
                "  {mark} {}/{}  {}",
                term(c.group.as_str()),
                term(&truncate(&c.name, 60)),
                one_line(&c.reason)
            );
        }
        if folded_count > 0 {
            let _ = writeln!(
                out,
                "  {} robustness: {} handled gracefully, each against the bot's own answers to its controls (--verbose lists them)",
                p.wrap(GREEN, "✓"),
                if folded_count == 1 {
                    "1 edge-case class".to_owned()
                } else {
                    format!("{folded_count} edge-case classes")
                }
            );
        }
        // A rule shared by a group's checks is said once, not in every reason.
        let mut ruled: Vec<perf_core::record::CheckGroup> = Vec::new();
        for c in &result.checks {
            if c.group.rule().is_some() && !ruled.contains(&c.group) {
                ruled.push(c.group);
            }
        }
        for g in ruled {
            if let Some(rule) = g.rule() {
                let _ = writeln!(
                    out,
                    "  {}",
                    p.wrap(DIM, &format!("{} rule: {rule}", g.as_str()))
                );
            }
        }
    }

    if let Some(c) = &result.comparison {
        let _ = writeln!(
            out,
            "\n{}",
            p.wrap(
                BOLD,
                &format!(
                    "baseline {}: {}",
                    term(&truncate(&c.baseline, 60)),
                    c.overall
                )
            )
        );
        for d in &c.environment_differences {
            let _ = writeln!(
                out,
                "  {} {}",
                p.wrap(YELLOW, "environment differs:"),
                one_line(d)
            );
        }
        // Passing metrics are summarised in the count; the rest are listed.
        for v in c.verdicts.iter().filter(|v| v.verdict != Verdict::Pass) {
            let mark = match v.verdict {
                Verdict::Regression => p.wrap(RED, "✗"),
                Verdict::Improvement => p.wrap(GREEN, "↑"),
                _ => p.wrap(YELLOW, "?"),
            };
            let _ = writeln!(
                out,
                "  {mark} {} {}: {} → {} ({}, interval {}) {}",
                term(&truncate(&v.key, 50)),
                term(&truncate(&v.metric, 30)),
                fmt::metric_value(&v.metric, v.baseline),
                fmt::metric_value(&v.metric, v.current),
                fmt::change(&v.metric, v.relative_change),
                fmt::interval(&v.metric, v.interval),
                v.verdict
            );
        }
        let passing = c
            .verdicts
            .iter()
            .filter(|v| v.verdict == Verdict::Pass)
            .count();
        if passing > 0 {
            let _ = writeln!(
                out,
                "  {} within threshold",
                crate::status::plural(passing, "metric")
            );
        }
    }
    let forecasts = crate::fmt::forecast_lines(result);
    if !forecasts.is_empty() {
        let _ = writeln!(out, "\n{}", p.wrap(BOLD, "forecasts"));
        for line in &forecasts {
            let _ = writeln!(out, "  {}", one_line(line));
        }
    }
    let s = &result.schedule;
    if s.late_starts > 0 || s.dropped > 0 {
        let _ = writeln!(
            out,
            "\nschedule: {} late starts (> {} ms), {} dropped",
            fmt::count(s.late_starts),
            perf_core::record::ScheduleStats::LATE_THRESHOLD_US / 1000,
            fmt::count(s.dropped)
        );
    }
    if shortened > 0 {
        let them = if shortened == 1 { "it" } else { "them" };
        let whole = match &opts.full_text {
            Some(path) => format!("read {them} whole in {}", term(&path.display().to_string())),
            None => format!("read {them} whole in the run's summary.md"),
        };
        let how = if opts.verbose {
            format!("{whole} (cut at {VERBOSE_CHARS} characters here)")
        } else {
            format!("{whole} or run with --verbose")
        };
        let _ = writeln!(
            out,
            "\n{}",
            p.wrap(
                DIM,
                &format!(
                    "{} shortened to one line: {how}",
                    crate::status::plural(shortened, "reason")
                )
            )
        );
    }
    let legend = legend(result, ttft, !forecasts.is_empty());
    if !legend.is_empty() {
        let _ = writeln!(out, "\n{}", p.wrap(BOLD, "legend"));
        for (term_name, meaning) in legend {
            let _ = writeln!(out, "  {}", p.wrap(DIM, &format!("{term_name}: {meaning}")));
        }
    }
    out
}

/// Plain words for the terms this summary uses, in the order they appear.
fn legend(result: &RunResult, ttft: bool, forecasts: bool) -> Vec<(&'static str, String)> {
    let mut v: Vec<(&'static str, String)> = vec![
        (
            "ok",
            "the share of queries answered in time with every expectation met".to_owned(),
        ),
        (
            "p50/p95/p99",
            "half, 95% and 99% of the queries were answered within this time".to_owned(),
        ),
        ("q/s", "answers per second over the whole run".to_owned()),
    ];
    if ttft {
        v.push((
            "ttft",
            "time to first token: how long until a streamed answer began".to_owned(),
        ));
    }
    if result
        .checks
        .iter()
        .any(perf_core::record::CheckResult::unmeasured)
    {
        v.push((
            "SKIP",
            "not measured: neither a pass nor a fail; the reason says why".to_owned(),
        ));
    }
    if forecasts {
        v.push((
            "forecasts",
            "where the trend of this target's past runs heads, and when it crosses an SLO"
                .to_owned(),
        ));
    }
    let s = &result.schedule;
    if s.late_starts > 0 || s.dropped > 0 {
        v.push((
            "late starts",
            format!(
                "queries the load generator sent more than {} ms after their planned time: \
                 the harness fell behind, not the bot; dropped ones were never sent",
                perf_core::record::ScheduleStats::LATE_THRESHOLD_US / 1000
            ),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn no_color_and_pipes_turn_colour_off() {
        assert!(wants_color(None, true));
        assert!(!wants_color(None, false), "not a terminal");
        assert!(!wants_color(Some(OsStr::new("1")), true), "NO_COLOR set");
        assert!(
            wants_color(Some(OsStr::new("")), true),
            "an empty NO_COLOR is unset"
        );
    }
}
