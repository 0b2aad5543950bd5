//! `orchestrator check-target`: one query to the configured target, shown whole (what was
//! sent, what came back, what the pointers found), so a wrong URL, body template or
//! answer pointer is seen before a run. The exchange is `perf_targets::inspect`; this
//! file only prints it. Exit 0 when the answer resolved, 2 otherwise.

use std::time::Duration;

use perf_core::{Query, Redactor};
use perf_suite::{Config, Exit};

/// The control question sent when no `--questions` file is given.
const CONTROL_QUESTION: &str = "hello";

/// Runs the check and returns how the process exits.
pub(crate) async fn run(config: &Config) -> anyhow::Result<Exit> {
    use anyhow::Context;
    let query = match &config.questions {
        Some(path) => perf_synth::QuestionSet::load(path)?
            .first()
            .with_context(|| format!("{} has no questions", path.display()))?,
        None => Query::new("check-target", CONTROL_QUESTION, "check"),
    };
    if matches!(config.target, perf_targets::TargetSpec::Refbot) {
        return Ok(Exit::could_not_run(
            "error: the target is the in-process reference bot, which needs no check: give --target (an http(s):// URL, openai+<URL> or cmd:<command>) or a config `target` section",
        ));
    }
    // A child process's stderr log needs a directory: a private temporary one, removed
    // after, so the check leaves nothing on disk.
    let scratch = std::env::temp_dir().join(format!(
        "perf-check-target-{}-{}",
        std::process::id(),
        chrono_free_nanos()
    ));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let redactor = config.target.redactor();
    let outcome = check(config, &query, &scratch, &redactor).await;
    let _ = std::fs::remove_dir_all(&scratch);
    outcome
}

fn chrono_free_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

async fn check(
    config: &Config,
    query: &Query,
    scratch: &std::path::Path,
    redactor: &Redactor,
) -> anyhow::Result<Exit> {
    let target = match perf_targets::open_target(&config.target, scratch) {
        Ok(t) => t,
        Err(e) => {
            return Ok(Exit::could_not_run(format!(
                "error: target {} cannot be used: {}",
                config.target.describe(),
                redactor.redact_owned(e.to_string())
            )));
        }
    };
    let redactor = redactor.union(&target.bot().redactor());
    let timeout = Duration::try_from_secs_f64(config.query_timeout).unwrap_or(Duration::MAX);
    let i = perf_targets::inspect(&target, query, timeout).await;
    let _ = target.bot().shutdown().await;
    let r = |s: &str| redactor.redact_owned(s.to_owned());
    println!("Target: {}", r(&config.target.describe()));
    println!("\nSent:\n  {}", r(&i.request_line));
    for (k, v) in &i.request_headers {
        println!("  {k}: {}", r(v));
    }
    if !i.request_body.is_empty() {
        println!("  body: {}", r(&i.request_body));
    }
    println!("\nReceived:");
    match i.status {
        Some(s) => println!("  status {s}"),
        None if i.response_body.is_empty() => println!("  nothing"),
        None => {}
    }
    for (k, v) in &i.response_headers {
        println!("  {k}: {}", r(v));
    }
    if !i.response_body.is_empty() {
        let shown = if i.response_bytes > perf_targets::INSPECT_BODY_BYTES {
            format!(
                " (first {} of {} bytes)",
                perf_targets::INSPECT_BODY_BYTES,
                i.response_bytes
            )
        } else {
            String::new()
        };
        println!("  body{shown}: {}", r(&i.response_body));
    }
    println!("  streamed: {}", if i.streamed { "yes" } else { "no" });
    println!();
    let at = i
        .answer_pointer
        .as_deref()
        .map(|p| format!(" at `{p}`"))
        .unwrap_or_default();
    match &i.answer {
        Ok(a) => println!("Answer{at}: {}", r(&perf_core::cut(a, 500))),
        Err(e) => println!("Answer{at}: not found: {}", r(e)),
    }
    for (pointer, found) in &i.agents {
        match found {
            Some(v) => println!("Agent at `{pointer}`: {}", r(v)),
            None => println!("Agent at `{pointer}`: nothing there"),
        }
    }
    if let Some((pointer, text)) = &i.suggestion {
        println!(
            "\nSuggestion: the longest text in the answer is at `{pointer}` ({}); if that is the answer, set \"answer_pointer\": \"{pointer}\" in the config's target section (docs/targets.md)",
            r(text)
        );
    }
    Ok(if i.answered() {
        println!("\nOK: the answer resolved");
        Exit::ok()
    } else {
        Exit::could_not_run(
            "\nerror: the answer did not resolve; a run would record every query as failed",
        )
    })
}
