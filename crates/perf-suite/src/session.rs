//! What every run, capacity search and merge share, written once. The start: a run id
//! ([`run_id`]) and the bot opened and asked a first question within `query_timeout`
//! ([`open_target`]), so a bot that cannot answer is "could not run" (exit 2) for every
//! product alike. The end ([`finish`]): the run history (a failure becomes a problem and a
//! note, never a lost run), the caller's last additions, then every report, then the
//! outcome whose [`SuiteOutcome::exit`] is the process's exit rule.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use perf_core::record::RunResult;
use perf_core::{BotTarget, ErrorKind, Query};
use tokio_util::sync::CancellationToken;

use crate::{Config, SuiteError, SuiteOutcome};

/// Records `result` in the run history when `record`, applies `before_reports`, writes
/// every report and returns the outcome with `problems` (those found on the way and a
/// history that could not be updated). With `cancel`, Ctrl-C while the history is written
/// leaves the run unrecorded and marked interrupted, the reports still written.
pub(crate) async fn finish(
    config: &Config,
    mut result: RunResult,
    mut problems: Vec<String>,
    record: bool,
    cancel: Option<&CancellationToken>,
    before_reports: impl FnOnce(&mut RunResult) + Send,
) -> Result<SuiteOutcome, SuiteError> {
    if record {
        let recording = crate::pipeline::record_history(config, &mut result);
        // `None`: Ctrl-C came first.
        let recorded = match cancel {
            Some(cancel) => tokio::select! {
                r = recording => Some(r),
                () = cancel.cancelled() => None,
            },
            None => Some(recording.await),
        };
        match recorded {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                let message = format!("run history not updated: {e}");
                result.notes.push(message.clone());
                problems.push(message);
            }
            None => {
                result.interrupted = true;
                result
                    .notes
                    .push("interrupted while recording the run history: not recorded".to_owned());
            }
        }
    }
    before_reports(&mut result);
    let reports = perf_report::write_run_reports(&result, &config.output_dir)?;
    Ok(SuiteOutcome {
        result,
        reports,
        problems,
    })
}

/// A run id for a run, a capacity search or a merge started at `at`: the time, then
/// `kind` (`""`, `"capacity-"` before the time, `"merged-N-"` after it), then `digits` hex
/// digits of a random part seeded from the start's nanoseconds, the process id and a
/// counter. Jobs in containers often share a small process id and shards started together
/// share the second, while a shared history keys runs by id (a taken id is refused, never
/// overwritten).
pub(crate) fn run_id(at: DateTime<Utc>, prefix: &str, infix: &str, digits: u32) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = (at.timestamp_nanos_opt().unwrap_or(0) as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let random = perf_core::SplitMix64::new(seed).next_u64() & ((1u64 << (4 * digits)) - 1);
    format!(
        "{prefix}{}-{infix}{random:0width$x}",
        at.format("%Y%m%dT%H%M%SZ"),
        width = digits as usize
    )
}

/// How long the first-query check waits before it says it is still waiting.
const FIRST_ANSWER_NOTICE: Duration = Duration::from_secs(10);

/// Opens the configured target and checks that it answers within `query_timeout`: a
/// target that cannot be reached at the start is a setup problem ("could not run"), not a
/// failed run. `waiting` hears once when the first answer is slow to come.
/// `spec`, with the guild of the message database when it is a discord target.
async fn with_guild(
    config: &Config,
    spec: &perf_targets::TargetSpec,
) -> Result<perf_targets::TargetSpec, SuiteError> {
    let mut spec = spec.clone();
    if let perf_targets::TargetSpec::Discord(d) = &mut spec {
        if d.guild.is_none() {
            let (pool, _) =
                perf_synth::open_or_generate(&config.database_path, &config.fixture).await?;
            let content = perf_synth::analyze_content(&pool, &config.database_path).await?;
            pool.close().await;
            d.guild = Some(perf_discord::Guild::from_profile(
                "perf test server",
                &content,
            ));
        }
    }
    Ok(spec)
}

pub(crate) async fn open_target(
    config: &Config,
    run_dir: &Path,
    cancel: &CancellationToken,
    waiting: &(dyn Fn(String) + Sync),
) -> Result<(Arc<dyn BotTarget>, Option<perf_targets::Target>), SuiteError> {
    if cancel.is_cancelled() {
        return Err(SuiteError::Interrupted {
            during: "the preparation, before the bot was started".to_owned(),
        });
    }
    let (bot, external): (Arc<dyn BotTarget>, _) = match &config.target {
        perf_targets::TargetSpec::Refbot => {
            let bot_config = perf_refbot::RefBotConfig {
                database_path: config.database_path.clone(),
                seed: config.seed,
                latency_scale: config.refbot.latency_scale,
                latency_factor: config.refbot.latency_factor,
                error_rate: config.refbot.error_rate,
                hang_rate: config.refbot.hang_rate,
                wrong_rate: config.refbot.wrong_rate,
                naive: config.refbot.naive,
                llm: config.refbot.llm.clone(),
                ..perf_refbot::RefBotConfig::default()
            };
            let bot =
                perf_refbot::RefBot::open(bot_config)
                    .await
                    .map_err(|e| SuiteError::Target {
                        target: "refbot".to_owned(),
                        message: e.to_string(),
                    })?;
            (Arc::new(bot), None)
        }
        spec => {
            // A Discord bot sees the server it is tested on: the guild, its channels and
            // its members come from the message database.
            let spec = &with_guild(config, spec).await?;
            // Messages are built from the redacted view of the target, never from its config.
            let target =
                perf_targets::open_target(spec, run_dir).map_err(|e| SuiteError::Target {
                    target: spec.describe(),
                    message: spec.redactor().redact_owned(e.to_string()),
                })?;
            (target.bot(), Some(target))
        }
    };
    let name = bot.describe().name;
    let redactor = bot.redactor().union(&config.target.redactor());
    let unreachable = |message: String| SuiteError::Target {
        target: name.clone(),
        message: perf_core::bounded(&redactor, &message, perf_core::MAX_ERROR_CHARS),
    };
    // Ctrl-C while the bot starts or answers its first query ends the wait at once: the
    // bot is stopped and nothing ran (exit 130, not 2 after the wait).
    async fn interrupted(bot: &dyn BotTarget, during: &str) -> SuiteError {
        let _ = bot.shutdown().await;
        SuiteError::Interrupted {
            during: during.to_owned(),
        }
    }
    let started = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(interrupted(&*bot, "the bot's start").await),
        r = bot.initialize() => r,
    };
    if let Err(e) = started {
        return Err(unreachable(match &external {
            Some(perf_targets::Target::Command(cmd))
                if matches!(e.kind, ErrorKind::Connect | ErrorKind::Crashed) =>
            {
                child_crash_message(cmd, &e.to_string()).await
            }
            _ => e.to_string(),
        }));
    }
    let probe = Query::new(
        "preflight",
        "How many messages have been sent in this server?",
        "preflight",
    );
    // The first answer may take as long as any answer may (`query_timeout`): a bot with a
    // slow cold start is waited for, and told about once it has taken a while.
    // Both instants are fixed at the start, so the notice never moves the deadline.
    let deadline = Duration::try_from_secs_f64(config.query_timeout)
        .unwrap_or(Duration::MAX)
        .min(Duration::from_secs_f64(crate::config::MAX_QUERY_TIMEOUT_S));
    let early = FIRST_ANSWER_NOTICE;
    let asked = tokio::time::Instant::now();
    let mut first = bot.execute(&probe);
    let notice = tokio::time::sleep_until(asked + early);
    tokio::pin!(notice);
    let mut noticed = early >= deadline;
    let answered = loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => {
                return Err(interrupted(&*bot, "the first-query check").await)
            }
            r = tokio::time::timeout_at(asked + deadline, &mut first) => break r,
            () = &mut notice, if !noticed => {
                noticed = true;
                waiting(format!(
                    "no answer to the first query yet after {} s; waiting up to query_timeout ({} s)",
                    early.as_secs_f64(),
                    deadline.as_secs_f64()
                ));
            }
        }
    };
    match answered {
        Err(_) => {
            return Err(unreachable(format!(
                "no answer to a first query within {} s (query_timeout); is the bot running? A bot that needs longer to start needs a larger --query-timeout",
                deadline.as_secs_f64()
            )))
        }
        Ok(Err(e)) if matches!(e.kind, ErrorKind::Connect | ErrorKind::Crashed) => {
            if let Some(perf_targets::Target::Command(cmd)) = &external {
                return Err(unreachable(child_crash_message(cmd, &e.to_string()).await));
            }
            return Err(unreachable(format!(
                "{e}; is the bot running at that address?"
            )));
        }
        Ok(_) => {}
    }
    drop(first);
    Ok((bot, external))
}

/// Why a child-process bot could not answer its first query: how it ended and the last
/// lines of its stderr, instead of a hint about addresses.
async fn child_crash_message(cmd: &perf_targets::CommandTarget, error: &str) -> String {
    // The exit status is recorded once the process is reaped, just after stdout closes.
    let mut exit = cmd.last_exit();
    for _ in 0..20 {
        if exit.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        exit = cmd.last_exit();
    }
    let how = exit.map_or_else(
        || "stopped answering".to_owned(),
        |e| format!("exited with {e}"),
    );
    let path = cmd.stderr_path();
    let tail = std::fs::read(path)
        .map(|b| last_lines(&String::from_utf8_lossy(&b), 5))
        .unwrap_or_default();
    let tail = if tail.is_empty() {
        "(nothing on stderr)".to_owned()
    } else {
        tail
    };
    format!(
        "the bot process {how} before answering a first query ({error}); the last lines of its stderr: {tail}; run the command by hand to see why it fails"
    )
}

/// The last `n` non-empty lines of `text`, joined with ` | `, at most 1000 characters.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = lines[lines.len().saturating_sub(n)..].join(" | ");
    match joined.char_indices().nth(1000) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_keep_their_shapes_and_never_repeat_within_one_second() {
        let at = Utc::now();
        let ids: std::collections::HashSet<String> =
            (0..200).map(|_| run_id(at, "", "", 4)).collect();
        // 200 draws of 16 bits: a repeat is possible, but not a constant id.
        assert!(ids.len() > 190, "{}", ids.len());
        let id = run_id(at, "capacity-", "", 4);
        assert!(id.starts_with("capacity-") && id.len() == "capacity-".len() + 16 + 1 + 4);
        let id = run_id(at, "", "merged-4-", 6);
        let (time, rest) = id.split_once('-').unwrap();
        assert_eq!(time.len(), 16);
        assert!(rest.starts_with("merged-4-") && rest.len() == "merged-4-".len() + 6);
    }
}
