//! A user's own questions in place of the generated standard queries (`questions`,
//! `--questions`; issue #22), and the run's first step: stopping when its first queries
//! all fail the same way (a wrong request body answered with HTTP 400, every time).

use std::sync::{Arc, Mutex};

use perf_core::{ContentProfile, ErrorKind, Outcome, Query, Sample};
use perf_runner::Plan;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::{Config, SuiteError};

/// The standard queries of phase 2 and the configuration phases 4 to 6 run with: the
/// generated queries and `config` itself, or, with `questions` set, the file's questions
/// and a configuration whose critical paths are their categories (unless
/// `regression_testing.critical_paths` was set) and which checks routing only when a
/// question names an `expected_agent`.
pub(crate) fn standard_queries(
    config: &Config,
    content: &ContentProfile,
) -> Result<(Vec<Query>, Option<Config>, String), SuiteError> {
    let Some(path) = &config.questions else {
        let q = perf_synth::generate_standard_queries(content, config.query_count, config.seed);
        let detail = format!("{} standard queries", q.len());
        return Ok((q, None, detail));
    };
    let set = perf_synth::QuestionSet::load(path)?;
    let queries = set.queries(content, config.seed);
    let mut effective = config.clone();
    let rt = &mut effective.regression_testing;
    let default_paths = crate::RegressionTesting::default().critical_paths;
    if !rt.critical_paths_given && rt.critical_paths == default_paths {
        rt.critical_paths = set.categories(content, config.seed);
    }
    if !queries.iter().all(|q| q.expected_agent.is_some()) {
        // A path whose questions name no agent would fail as "routing not checked", so
        // routing is checked only when every question names the agent it expects.
        rt.limits.routing_required = false;
    }
    let detail = format!(
        "{} questions from {} (critical paths: {})",
        queries.len(),
        path.display(),
        effective.regression_testing.critical_paths.join(", ")
    );
    Ok((queries, Some(effective), detail))
}

/// Adds to each failed critical-path check which questions of its category failed and
/// why (the expectation and what was wrong), from the run's failure examples.
pub(crate) fn explain_failures(result: &mut perf_core::record::RunResult) {
    let examples = result.failure_examples.clone();
    for c in result
        .checks
        .iter_mut()
        .filter(|c| c.group == perf_core::record::CheckGroup::CriticalPath && c.failed())
    {
        let why: Vec<String> = examples
            .iter()
            .filter(|s| s.category == c.name)
            .take(3)
            .map(describe_failure)
            .collect();
        if !why.is_empty() {
            c.reason = format!("{}; {}", c.reason, why.join("; "));
        }
    }
}

fn describe_failure(s: &Sample) -> String {
    let what = if s.failed_expectations.is_empty() {
        s.error.clone().unwrap_or_else(|| s.outcome.label())
    } else {
        s.failed_expectations
            .iter()
            .map(|f| format!("{}: {}", f.expectation, f.detail))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("question {:?} failed: {what}", s.query_id)
}

/// Characters of the first failure quoted when a run stops early.
const EXAMPLE_CHARS: usize = 256;

/// Answered queries at the start of a run that, all failing the same way, stop it.
pub const SAME_FAILURE_WINDOW: usize = 20;

/// Fewer standard queries than this are never stopped early: with so few, the failures
/// are the result, not a sign of a broken setup.
const MIN_WINDOW: usize = 5;

/// Watches the first answered queries of the standard plan; when all of the first
/// [`SAME_FAILURE_WINDOW`] (or all of them, in a smaller plan) fail the same way, it stops
/// the run and keeps why.
pub(crate) struct SameFailureWatch {
    tx: Option<UnboundedSender<Sample>>,
    verdict: Arc<Mutex<Option<String>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What makes two failures "the same": the error kind and, for a status error, its
/// `HTTP status NNN` head (the body after it may quote the query, which differs); for
/// every other kind the whole (redacted, bounded) message. The status is only carried in
/// the message (samples keep no status field), hence the split at the first `:`.
fn signature(kind: ErrorKind, message: &str) -> (ErrorKind, String) {
    let head = if kind == ErrorKind::Status {
        message.split(':').next().unwrap_or(message)
    } else {
        message
    };
    (kind, head.to_owned())
}

impl SameFailureWatch {
    /// A watch over a plan of `planned` queries that cancels `stop` when it decides.
    pub(crate) fn new(planned: usize, stop: CancellationToken) -> Self {
        let window = planned.min(SAME_FAILURE_WINDOW);
        let verdict = Arc::new(Mutex::new(None));
        if window < MIN_WINDOW {
            return Self {
                tx: None,
                verdict,
                task: None,
            };
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Sample>();
        let shared = Arc::clone(&verdict);
        let task = tokio::spawn(async move {
            let mut first: Option<((ErrorKind, String), String)> = None;
            let mut seen = 0;
            while let Some(s) = rx.recv().await {
                if s.outcome == Outcome::Dropped {
                    continue;
                }
                // An answer, a timeout or a bot-reported error: the bot at work, not a
                // setup that fails every query the same way (a wrong URL or body template
                // shows as status errors or answers the target cannot read).
                let kind = match s.outcome {
                    Outcome::Error(k @ (ErrorKind::Status | ErrorKind::InvalidResponse)) => k,
                    _ => return,
                };
                let message = s.error.unwrap_or_default();
                let sig = signature(kind, &message);
                match &first {
                    None => first = Some((sig, message)),
                    Some((f, _)) if *f == sig => {}
                    Some(_) => return,
                }
                seen += 1;
                if seen == window {
                    // One line's worth of the body: `check-target` shows it whole.
                    let example = first.map(|(_, m)| m).unwrap_or_default();
                    let example = match example.char_indices().nth(EXAMPLE_CHARS) {
                        Some((at, _)) => format!("{}…", &example[..at]),
                        None => example,
                    };
                    let why = format!(
                        "the first {window} queries all failed the same way (error kind {kind}): {example}; \
                         the run was stopped early (the reports hold what ran). See what is sent and \
                         received with `orchestrator check-target`, and check the target's `url`, \
                         `body` and `answer_pointer` (docs/targets.md)"
                    );
                    if let Ok(mut v) = shared.lock() {
                        *v = Some(why);
                    }
                    stop.cancel();
                    return;
                }
            }
        });
        // Returning drops the receiver: the runner then stops building samples for it.
        Self {
            tx: Some(tx),
            verdict,
            task: Some(task),
        }
    }

    /// `plan`, sending its samples to the watch.
    pub(crate) fn attach(&mut self, plan: Plan) -> Plan {
        match self.tx.take() {
            Some(tx) => plan.with_sample_sink(tx),
            None => plan,
        }
    }

    /// Why the run was stopped, if the watch stopped it.
    pub(crate) fn verdict(self) -> Option<String> {
        if let Some(t) = &self.task {
            t.abort();
        }
        self.verdict.lock().ok().and_then(|mut v| v.take())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(kind: ErrorKind, message: &str) -> Sample {
        let mut s = Sample::new("q", "standard", "c", Outcome::Error(kind), 1_000);
        s.error = Some(message.to_owned());
        s
    }

    async fn verdict_of(planned: usize, samples: Vec<Sample>) -> (Option<String>, bool) {
        let stop = CancellationToken::new();
        let mut w = SameFailureWatch::new(planned, stop.clone());
        let plan = w.attach(Plan::new(
            vec![Query::new("q", "t", "c")],
            perf_core::LoadProfile::closed(1, None),
        ));
        if let Some(tx) = &plan.sample_sink {
            for s in samples {
                let _ = tx.send(s);
            }
        }
        drop(plan);
        // Let the watch read what was sent.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let stopped = stop.is_cancelled();
        (w.verdict(), stopped)
    }

    #[tokio::test]
    async fn the_same_status_twenty_times_stops_the_run_and_anything_else_does_not() {
        // The body may differ (it quotes the query); the status is what counts.
        let same: Vec<Sample> = (0..20)
            .map(|i| {
                failed(
                    ErrorKind::Status,
                    &format!("HTTP status 400: {{\"detail\": \"bad {i}\"}}"),
                )
            })
            .collect();
        let (v, stopped) = verdict_of(100, same.clone()).await;
        let v = v.unwrap();
        assert!(stopped);
        assert!(
            v.contains("first 20 queries")
                && v.contains("HTTP status 400: {\"detail\": \"bad 0\"}"),
            "{v}"
        );
        // A long body is quoted to one line's worth, never kilobytes.
        let long: Vec<Sample> = (0..20)
            .map(|_| {
                failed(
                    ErrorKind::Status,
                    &format!("HTTP status 400: {}", "é".repeat(2_000)),
                )
            })
            .collect();
        let (v, _) = verdict_of(100, long).await;
        let v = v.unwrap();
        assert!(v.contains("…;"), "{v}");
        assert!(v.chars().count() < 700, "{} characters", v.chars().count());
        // 19 are not enough in a plan of 100.
        let (v, stopped) = verdict_of(100, same[..19].to_vec()).await;
        assert!(v.is_none() && !stopped);
        // Another status among them: no stop.
        let mut mixed = same.clone();
        mixed[7] = failed(ErrorKind::Status, "HTTP status 503: busy");
        assert_eq!(verdict_of(100, mixed).await, (None, false));
        // A bot-reported error is the bot at work: no stop.
        let bot: Vec<Sample> = (0..20).map(|_| failed(ErrorKind::Bot, "no data")).collect();
        assert_eq!(verdict_of(100, bot).await, (None, false));
        // An answer among them: no stop.
        let mut answered = same.clone();
        answered[3] = Sample::new("q", "standard", "c", Outcome::FailedExpectation, 1);
        assert_eq!(verdict_of(100, answered).await, (None, false));
        // invalid_response: the whole message must agree.
        let bad: Vec<Sample> = (0..6)
            .map(|_| failed(ErrorKind::InvalidResponse, "no string at /answer"))
            .collect();
        let (v, stopped) = verdict_of(6, bad.clone()).await;
        assert!(stopped && v.unwrap().contains("first 6 queries"));
        // A plan of 4: never stopped early.
        assert_eq!(verdict_of(4, bad).await, (None, false));
    }
}
