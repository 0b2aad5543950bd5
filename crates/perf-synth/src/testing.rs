//! Test support shared by this crate's unit and integration tests and by scenario crates'
//! tests: a stand-in for the runner that needs no runtime features beyond `await`.

/// Sends the queries one after another, as the runner's one-user closed loop does, and
/// records what it would (fixed 1 ms latencies: these tests are about answers, not time).
pub async fn run_sequentially(
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
            itl_us: None,
            tpot_us: None,
            output_tokens: None,
            error,
            failed_expectations: failed,
            answer_excerpt: answer,
        });
    }
    r
}
