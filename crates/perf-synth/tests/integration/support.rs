//! Shared helpers.

use std::path::PathBuf;

use perf_core::{ChannelStat, ContentProfile, TermStat, UserStat};

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A small, fixed content profile, so snapshots do not depend on the fixture generator.
pub(crate) fn profile() -> ContentProfile {
    ContentProfile {
        total_messages: 1234,
        channels: vec![
            ChannelStat {
                name: "general".into(),
                messages: 800,
            },
            ChannelStat {
                name: "dev-help".into(),
                messages: 434,
            },
        ],
        users: vec![
            UserStat {
                name: "alice".into(),
                messages: 99,
            },
            UserStat {
                name: "bob_dev".into(),
                messages: 42,
            },
        ],
        top_terms: vec![
            TermStat {
                term: "rust".into(),
                count: 50,
            },
            TermStat {
                term: "tokio".into(),
                count: 30,
            },
            TermStat {
                term: "meetup".into(),
                count: 20,
            },
        ],
        first_message_at: 0,
        last_message_at: 86_400 * 30,
    }
}

/// Sends the queries one after another, as the runner's one-user closed loop does, and
/// records what it would.
pub(crate) async fn run_sequentially(
    bot: &dyn perf_core::BotTarget,
    queries: &[perf_core::Query],
) -> perf_core::RunResult {
    use perf_core::{check_expectations, Outcome, RunResult, Sample};
    let mut r = RunResult::new("t", "2024-01-01T00:00:00Z", bot.describe());
    for q in queries {
        let (outcome, agent, failed, error, answer) = match bot.execute(q).await {
            Err(e) => (
                Outcome::Error(e.kind),
                None,
                Vec::new(),
                Some(e.message),
                None,
            ),
            Ok(resp) => {
                let failed = check_expectations(&q.expectations, &resp);
                let outcome = if failed.is_empty() {
                    Outcome::Ok
                } else {
                    Outcome::FailedExpectation
                };
                let agent = resp.primary_agent().map(str::to_owned);
                (outcome, agent, failed, None, Some(resp.answer))
            }
        };
        r.record(&Sample {
            query_id: q.id.clone(),
            scenario: q.scenario.clone(),
            category: q.category.clone(),
            expected_agent: q.expected_agent.clone(),
            agent,
            outcome,
            first_attempt: None,
            attempts: 1,
            scheduled_at_us: 0,
            start_lag_us: 0,
            latency_us: 1_000,
            service_us: 1_000,
            ttft_us: None,
            error,
            failed_expectations: failed,
            answer_excerpt: answer,
        });
    }
    r
}
