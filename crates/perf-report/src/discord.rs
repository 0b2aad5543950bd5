//! A Discord bot's figures beside its latency, as label–value rows shared by the terminal,
//! summary.md and report.html: typing, first message, final content, messages and edits
//! per answer, 429s, refusals and the event loop.

use perf_core::record::RunResult;
use perf_core::LatencyHistogram;

use crate::fmt;
use crate::model::pct_ms;

/// The title of the section.
pub(crate) const TITLE: &str = "Discord";

/// The rows, or `None` for a run of another transport.
pub(crate) fn discord_rows(r: &RunResult) -> Option<Vec<(&'static str, String)>> {
    let d = r.discord.as_ref()?;
    let pct = |h: &LatencyHistogram| format!("p50 {} · p95 {}", pct_ms(h, 50.0), pct_ms(h, 95.0));
    let mut rows = Vec::new();
    rows.push((
        "typing",
        if d.typing.is_empty() {
            "never shown".to_owned()
        } else {
            format!(
                "{} ({} of {} answers)",
                pct(&d.typing),
                fmt::count(d.typing.count()),
                fmt::count(d.answers)
            )
        },
    ));
    if !r.overall.ttft.is_empty() {
        rows.push(("first message", pct(&r.overall.ttft)));
    }
    if !r.overall.latency.is_empty() {
        rows.push(("final content", pct(&r.overall.latency)));
    }
    rows.push((
        "per answer",
        format!(
            "{:.2} messages, {:.2} edits ({} and {} in all)",
            d.messages_per_answer(),
            d.edits_per_answer(),
            fmt::count(d.messages),
            fmt::count(d.edits)
        ),
    ));
    let limited: Vec<String> = d
        .rate_limits
        .iter()
        .filter(|(_, l)| l.rate_limited > 0)
        .map(|(route, l)| format!("{route} {} (waited {:.1} s)", l.rate_limited, l.waited_s))
        .collect();
    rows.push((
        "429s",
        if limited.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{}, {} sent again too early: {}",
                fmt::count(d.rate_limited()),
                fmt::count(d.early_retries()),
                limited.join("; ")
            )
        },
    ));
    rows.push((
        "event loop",
        if d.heartbeats < 2 {
            format!("{} heartbeat(s): not measured", d.heartbeats)
        } else {
            format!(
                "blocked at most {}, p99 {} ({} heartbeats)",
                fmt::ms(d.loop_blocked_max_ms),
                fmt::ms(d.loop_blocked_p99_ms),
                fmt::count(d.heartbeats)
            )
        },
    ));
    if d.too_long + d.wrong_channel > 0 {
        rows.push((
            "refused",
            format!(
                "{} over 2,000 characters, {} in another channel",
                fmt::count(d.too_long),
                fmt::count(d.wrong_channel)
            ),
        ));
    }
    if d.crashes > 0 {
        rows.push(("crashes", format!("{} (restarted)", fmt::count(d.crashes))));
    }
    if d.resumes > 0 {
        rows.push(("resumes", fmt::count(d.resumes)));
    }
    if !d.unknown_routes.is_empty() {
        let routes: Vec<String> = d
            .unknown_routes
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        rows.push(("unknown routes", routes.join(", ")));
    }
    Some(rows)
}
