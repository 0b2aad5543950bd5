//! `/metrics` in the Prometheus text exposition format (version 0.0.4), which OpenMetrics
//! parsers read too. The names are documented in `docs/live.md`.

use std::borrow::Cow;
use std::fmt::Write;

use super::{Buckets, LiveSnapshot, LiveState};

/// Upper bounds of the latency and TTFT histogram buckets, seconds (`+Inf` is implied).
pub const BUCKETS_S: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// The content type of `/metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether `c` is replaced in label values and names: control characters other than line
/// feed (carriage return, NUL, escape, tab, next line U+0085 …) and the Unicode line and
/// paragraph separators. The format has no escape for them, and readers that split lines
/// on more than `\n` (or terminals that show a scrape) would break on them.
fn unprintable(c: char) -> bool {
    (c.is_control() && c != '\n') || c == '\u{2028}' || c == '\u{2029}'
}

/// `value` with every character a reader could take for a line break or a terminal
/// command replaced by U+FFFD; borrowed when there is none.
pub(crate) fn printable(value: &str) -> Cow<'_, str> {
    if value.chars().any(unprintable) {
        Cow::Owned(
            value
                .chars()
                .map(|c| if unprintable(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

/// Escapes a label value: backslash, double quote and line feed, as the format requires.
/// Carriage return, NUL, escape and the other control characters, and U+2028/U+2029, for
/// which the format has no escape, become U+FFFD.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if unprintable(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A float as the format writes it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn histogram(out: &mut String, name: &str, agent: &str, b: &Buckets) {
    let agent = escape_label(agent);
    let mut cumulative = 0;
    for (le, n) in BUCKETS_S.iter().zip(b.counts) {
        cumulative += n;
        let _ = writeln!(
            out,
            "{name}_bucket{{agent=\"{agent}\",le=\"{}\"}} {cumulative}",
            num(*le)
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{agent=\"{agent}\",le=\"+Inf\"}} {}",
        b.count
    );
    let _ = writeln!(
        out,
        "{name}_sum{{agent=\"{agent}\"}} {}",
        num(b.sum_us as f64 / 1e6)
    );
    let _ = writeln!(out, "{name}_count{{agent=\"{agent}\"}} {}", b.count);
}

/// Renders every metric of `state`; `snapshot` is the one just made from it.
pub(crate) fn render(state: &LiveState, snapshot: &LiveSnapshot) -> String {
    let mut out = String::with_capacity(4096);

    header(
        &mut out,
        "chatbot_perf_run_info",
        "gauge",
        "The run being measured and the phase running now (always 1).",
    );
    let phase = match (&snapshot.phase, &snapshot.finished) {
        (Some(p), _) => p.name.clone(),
        (None, Some(_)) => "finished".to_owned(),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        out,
        "chatbot_perf_run_info{{run_id=\"{}\",phase=\"{}\"}} 1",
        escape_label(snapshot.run_id.as_deref().unwrap_or("")),
        escape_label(&phase)
    );

    header(
        &mut out,
        "chatbot_perf_queries_total",
        "counter",
        "Queries finished, by outcome, answering agent and scenario.",
    );
    let mut rows: Vec<(String, &str, &str, u64)> = state
        .queries
        .iter()
        .map(|((outcome, agent, scenario), n)| {
            (
                outcome.label(),
                state.agents.name(*agent),
                state.scenarios.name(*scenario),
                *n,
            )
        })
        .collect();
    rows.sort();
    for (outcome, agent, scenario, n) in rows {
        let _ = writeln!(
            out,
            "chatbot_perf_queries_total{{outcome=\"{}\",agent=\"{}\",scenario=\"{}\"}} {n}",
            escape_label(&outcome),
            escape_label(agent),
            escape_label(scenario)
        );
    }

    for (name, help, ttft) in [
        (
            "chatbot_perf_latency_seconds",
            "Latency from the intended start, by answering agent.",
            false,
        ),
        (
            "chatbot_perf_ttft_seconds",
            "Time to the first token of streamed answers, by answering agent.",
            true,
        ),
    ] {
        header(&mut out, name, "histogram", help);
        for (i, a) in state.per_agent.iter().enumerate() {
            let b = if ttft { &a.ttft } else { &a.latency };
            if b.count > 0 {
                histogram(&mut out, name, state.agents.name(i as u32), b);
            }
        }
    }

    header(
        &mut out,
        "chatbot_perf_in_flight",
        "gauge",
        "Mean queries in flight over the last interval.",
    );
    let _ = writeln!(out, "chatbot_perf_in_flight {}", num(state.last_in_flight));
    header(
        &mut out,
        "chatbot_perf_achieved_queries_per_second",
        "gauge",
        "Queries finished per second over the last interval.",
    );
    let _ = writeln!(
        out,
        "chatbot_perf_achieved_queries_per_second {}",
        num(state.last_rate)
    );

    if let Some(r) = &state.resources {
        header(
            &mut out,
            "chatbot_perf_cpu_cores",
            "gauge",
            "CPU in use, in cores: the whole system, the target process, the harness.",
        );
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let mut cpu = vec![("system", f64::from(r.system_cpu_percent) / 100.0 * cores)];
        if let Some(t) = r.target_cpu_percent {
            cpu.push(("target", f64::from(t) / 100.0));
        }
        cpu.push(("harness", f64::from(r.harness_cpu_percent) / 100.0));
        for (process, v) in cpu {
            let _ = writeln!(
                out,
                "chatbot_perf_cpu_cores{{process=\"{process}\"}} {}",
                num(v)
            );
        }
        header(
            &mut out,
            "chatbot_perf_memory_bytes",
            "gauge",
            "Memory in use: the whole system, and the resident memory of the target and the harness.",
        );
        let mib = 1024.0 * 1024.0;
        let mut mem = vec![("system", r.system_memory_mb * mib)];
        if let Some(t) = r.target_memory_mb {
            mem.push(("target", t * mib));
        }
        mem.push(("harness", r.harness_memory_mb * mib));
        for (process, v) in mem {
            let _ = writeln!(
                out,
                "chatbot_perf_memory_bytes{{process=\"{process}\"}} {}",
                num(v.round())
            );
        }
    }

    header(
        &mut out,
        "chatbot_perf_check_passed",
        "gauge",
        "Each check decided so far: 1 passed, 0 failed (a check not measured has no sample here; see chatbot_perf_check_not_measured).",
    );
    // One sample per label set as written (a repeated check keeps its last verdict, and
    // names that differ only in replaced characters are one series): a scrape with
    // duplicate series is rejected whole.
    let checks: std::collections::BTreeMap<(String, String), perf_core::record::CheckStatus> =
        state
            .checks
            .iter()
            .map(|c| {
                (
                    (escape_label(c.group.as_str()), escape_label(&c.name)),
                    c.status,
                )
            })
            .collect();
    for ((group, name), status) in &checks {
        if *status == perf_core::record::CheckStatus::NotMeasured {
            continue;
        }
        let _ = writeln!(
            out,
            "chatbot_perf_check_passed{{group=\"{group}\",name=\"{name}\"}} {}",
            u8::from(*status == perf_core::record::CheckStatus::Passed)
        );
    }
    header(
        &mut out,
        "chatbot_perf_check_not_measured",
        "gauge",
        "Each check that could not be measured so far (never a pass, never a failure): 1.",
    );
    for ((group, name), status) in &checks {
        if *status == perf_core::record::CheckStatus::NotMeasured {
            let _ = writeln!(
                out,
                "chatbot_perf_check_not_measured{{group=\"{group}\",name=\"{name}\"}} 1"
            );
        }
    }
    if let Some(d) = snapshot.finished.as_ref().and_then(|f| f.discord.as_ref()) {
        discord(&mut out, d);
    }
    out
}

/// A Discord bot's figures, once the run is over.
fn discord(out: &mut String, d: &perf_core::record::DiscordSummary) {
    header(
        out,
        "chatbot_perf_discord_typing_seconds",
        "gauge",
        "Time from the question to the bot's first typing indicator, by quantile.",
    );
    for q in [0.5, 0.95, 0.99] {
        let _ = writeln!(
            out,
            "chatbot_perf_discord_typing_seconds{{quantile=\"{q}\"}} {}",
            d.typing.percentile_micros(q * 100.0) as f64 / 1e6
        );
    }
    for (name, help, v) in [
        (
            "answers",
            "Questions the bot answered with at least one message.",
            d.answers,
        ),
        ("messages", "Messages the bot posted.", d.messages),
        ("edits", "Edits of the bot's messages.", d.edits),
        (
            "too_long",
            "Messages Discord refused for being over 2,000 characters.",
            d.too_long,
        ),
        (
            "wrong_channel",
            "Replies posted in another channel than the question's.",
            d.wrong_channel,
        ),
        (
            "early_retries",
            "Requests sent again before a 429's retry_after.",
            d.early_retries(),
        ),
        (
            "heartbeats",
            "Gateway heartbeats the bot sent.",
            d.heartbeats,
        ),
        ("resumes", "Gateway sessions the bot resumed.", d.resumes),
    ] {
        let metric = format!("chatbot_perf_discord_{name}_total");
        header(out, &metric, "counter", help);
        let _ = writeln!(out, "{metric} {v}");
    }
    header(
        out,
        "chatbot_perf_discord_rate_limited_total",
        "counter",
        "429s Discord gave the bot, by route.",
    );
    for (route, r) in &d.rate_limits {
        let _ = writeln!(
            out,
            "chatbot_perf_discord_rate_limited_total{{route=\"{}\"}} {}",
            escape_label(route),
            r.rate_limited
        );
    }
    header(
        out,
        "chatbot_perf_discord_loop_blocked_seconds",
        "gauge",
        "How late the bot's heartbeats came: its event loop blocked, at most and at p99.",
    );
    let _ = writeln!(
        out,
        "chatbot_perf_discord_loop_blocked_seconds{{stat=\"max\"}} {}",
        d.loop_blocked_max_ms / 1e3
    );
    let _ = writeln!(
        out,
        "chatbot_perf_discord_loop_blocked_seconds{{stat=\"p99\"}} {}",
        d.loop_blocked_p99_ms / 1e3
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("x\ny"), r"x\ny");
        assert_eq!(escape_label("plain"), "plain");
    }

    #[test]
    fn characters_without_an_escape_are_replaced() {
        for c in ['\r', '\0', '\u{1b}', '\t', '\u{85}', '\u{2028}', '\u{2029}'] {
            let v = format!("a{c}b");
            assert_eq!(escape_label(&v), "a\u{FFFD}b", "{c:?}");
            assert_eq!(printable(&v), "a\u{FFFD}b", "{c:?}");
        }
        assert!(matches!(printable("plain é\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn buckets_ascend() {
        assert!(BUCKETS_S.windows(2).all(|w| w[0] < w[1]));
    }
}
