//! Test support shared by this crate's unit and integration tests and by scenario crates'
//! tests: a stand-in for the runner that needs no runtime features beyond `await`.

/// Sends the queries one after another, as the runner's one-user closed loop does, and
/// returns the sample of each, as the runner's sample sink would (fixed 1 ms latencies:
/// these tests are about answers, not time).
pub async fn answer_sequentially(
    bot: &dyn perf_core::BotTarget,
    queries: &[perf_core::Query],
) -> Vec<perf_core::Sample> {
    use perf_core::{check_expectations, Outcome, Sample};
    let mut out = Vec::with_capacity(queries.len());
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
        out.push(Sample {
            expected_agent: q.expected_agent.clone(),
            agent,
            error,
            failed_expectations: failed,
            answer_excerpt: answer,
            ..Sample::new(&q.id, &q.scenario, &q.category, outcome, 1_000)
        });
    }
    out
}

/// [`answer_sequentially`], folded into a run result.
pub async fn run_sequentially(
    bot: &dyn perf_core::BotTarget,
    queries: &[perf_core::Query],
) -> perf_core::record::RunResult {
    let mut r = perf_core::record::RunResult::new("t", "2024-01-01T00:00:00Z", bot.describe());
    for s in answer_sequentially(bot, queries).await {
        r.record(&s);
    }
    r
}
