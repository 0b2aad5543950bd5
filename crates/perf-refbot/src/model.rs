//! The seeded latency and fault model: what stands in for the LLM calls of a real bot.

use std::time::Duration;

use perf_core::{agents, SplitMix64};

use crate::RefBotConfig;

/// Spread of the log-normal jitter around an agent's median "model call" latency.
pub const LATENCY_SIGMA: f64 = 0.25;

/// Longest modelled latency; keeps absurd `latency_scale` values from overflowing.
const MAX_MODELLED_SECS: f64 = 86_400.0;

/// Salt that separates the fault stream from the latency stream of a query id.
const FAULT_STREAM_SALT: u64 = 0x6661_756c_7473_2121;

/// Median modelled latency of one agent at `latency_scale` 1.0 and `latency_factor` 1.0:
/// server_analysis 40 ms, semantic_search 60 ms, user_analysis 50 ms,
/// digest_generation 120 ms (any other agent 50 ms).
pub fn agent_median_latency(agent: &str) -> Duration {
    Duration::from_millis(match agent {
        agents::SERVER_ANALYSIS => 40,
        agents::SEMANTIC_SEARCH => 60,
        agents::USER_ANALYSIS => 50,
        agents::DIGEST_GENERATION => 120,
        _ => 50,
    })
}

/// What the model decided for one query. A pure function of the configuration, the
/// agent and the query id, so it does not depend on the order or concurrency of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryPlan {
    /// Modelled "LLM call" time, already multiplied by `latency_scale` and `latency_factor`.
    pub model_latency: Duration,
    /// The query is answered with a bot error.
    pub error: bool,
    /// The query hangs for `hang_duration` first.
    pub hang: bool,
    /// The query is answered wrongly ([`wrong_answer`]), with the timing of the right
    /// answer.
    pub wrong: bool,
}

/// Draws the latency and the faults of query `query_id` routed to `agent`.
///
/// latency = median(agent) × exp(σ·z) × latency_scale × latency_factor, with z standard
/// normal from `SplitMix64::derive(seed, query_id)`; error and hang are Bernoulli draws
/// with `error_rate` and `hang_rate` from a second stream of the same id, and the wrong
/// answer a third draw with `wrong_rate` from that stream (so adding it moved no error or
/// hang of an existing configuration).
pub fn plan_query(config: &RefBotConfig, agent: &str, query_id: &str) -> QueryPlan {
    let z = SplitMix64::derive(config.seed, query_id).normal();
    let secs = agent_median_latency(agent).as_secs_f64()
        * (LATENCY_SIGMA * z).exp()
        * config.latency_scale
        * config.latency_factor;
    let secs = if secs.is_finite() {
        secs.clamp(0.0, MAX_MODELLED_SECS)
    } else {
        0.0
    };
    let mut faults = SplitMix64::derive(config.seed ^ FAULT_STREAM_SALT, query_id);
    let error = faults.chance(config.error_rate);
    let hang = faults.chance(config.hang_rate);
    let wrong = faults.chance(config.wrong_rate);
    QueryPlan {
        model_latency: Duration::from_secs_f64(secs),
        error,
        hang,
        wrong,
    }
}

/// What a wrongly answered query gets: a confident non-answer that names no channel,
/// user, count or topic (so every grounded fact of the standard queries fails, while
/// `answer_not_empty` and `no_internal_error_leak` hold), repeated and cut to
/// `chars` characters (at least one), so that it streams as many tokens as the right
/// answer and takes as long: a wrong answer changes correctness, never timing.
pub const WRONG_ANSWER: &str = "I am not sure, sorry; I could not tell. ";

/// [`WRONG_ANSWER`] repeated and cut to `chars` characters (at least one).
pub fn wrong_answer(chars: usize) -> String {
    WRONG_ANSWER.chars().cycle().take(chars.max(1)).collect()
}

/// Extra time that stretches the real work by `latency_factor` (the factor applies to
/// the whole answer time); zero when the factor is at most 1.
pub(crate) fn work_slowdown(config: &RefBotConfig, work: Duration) -> Duration {
    let extra = work.as_secs_f64() * (config.latency_factor - 1.0);
    if extra.is_finite() && extra > 0.0 {
        Duration::from_secs_f64(extra.min(MAX_MODELLED_SECS))
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> RefBotConfig {
        RefBotConfig::default()
    }

    #[test]
    fn plans_are_deterministic_per_id_and_seed() {
        let a = plan_query(&cfg(), agents::SEMANTIC_SEARCH, "q-1");
        assert_eq!(a, plan_query(&cfg(), agents::SEMANTIC_SEARCH, "q-1"));
        assert_ne!(
            a.model_latency,
            plan_query(&cfg(), agents::SEMANTIC_SEARCH, "q-2").model_latency
        );
        let other_seed = RefBotConfig { seed: 7, ..cfg() };
        assert_ne!(
            a.model_latency,
            plan_query(&other_seed, agents::SEMANTIC_SEARCH, "q-1").model_latency
        );
    }

    #[test]
    fn latency_factor_two_doubles_the_modelled_latency() {
        let slow = RefBotConfig {
            latency_factor: 2.0,
            ..cfg()
        };
        for i in 0..200 {
            let id = format!("q-{i}");
            let base = plan_query(&cfg(), agents::DIGEST_GENERATION, &id).model_latency;
            let doubled = plan_query(&slow, agents::DIGEST_GENERATION, &id).model_latency;
            let ratio = doubled.as_secs_f64() / base.as_secs_f64();
            assert!((ratio - 2.0).abs() < 1e-6, "{id}: {base:?} -> {doubled:?}");
        }
        assert_eq!(
            work_slowdown(&slow, Duration::from_millis(30)),
            Duration::from_millis(30)
        );
        assert_eq!(
            work_slowdown(&cfg(), Duration::from_millis(30)),
            Duration::ZERO
        );
    }

    #[test]
    fn medians_follow_the_agents_and_scale_zero_turns_latency_off() {
        let median = |agent: &str| {
            let mut v: Vec<Duration> = (0..2001)
                .map(|i| plan_query(&cfg(), agent, &format!("m-{i}")).model_latency)
                .collect();
            v.sort();
            v[v.len() / 2].as_secs_f64()
        };
        let server = median(agents::SERVER_ANALYSIS);
        let digest = median(agents::DIGEST_GENERATION);
        assert!((server - 0.040).abs() < 0.004, "{server}");
        assert!((digest - 0.120).abs() < 0.012, "{digest}");
        let off = RefBotConfig {
            latency_scale: 0.0,
            ..cfg()
        };
        assert_eq!(
            plan_query(&off, agents::USER_ANALYSIS, "x").model_latency,
            Duration::ZERO
        );
        let huge = RefBotConfig {
            latency_scale: 1e300,
            ..cfg()
        };
        assert_eq!(
            plan_query(&huge, agents::USER_ANALYSIS, "x").model_latency,
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn fault_rates_hold_over_many_ids() {
        let c = RefBotConfig {
            error_rate: 0.3,
            hang_rate: 0.1,
            ..cfg()
        };
        let plans: Vec<QueryPlan> = (0..1000)
            .map(|i| plan_query(&c, agents::SERVER_ANALYSIS, &format!("f-{i}")))
            .collect();
        let errors = plans.iter().filter(|p| p.error).count();
        let hangs = plans.iter().filter(|p| p.hang).count();
        assert!((250..=350).contains(&errors), "{errors}");
        assert!((60..=140).contains(&hangs), "{hangs}");
        assert!(plans.iter().all(|p| !p.wrong), "wrong_rate 0 answers right");
        let all = RefBotConfig {
            error_rate: 1.0,
            ..cfg()
        };
        assert!((0..100).all(|i| plan_query(&all, "x", &i.to_string()).error));
        assert!((0..100).all(|i| !plan_query(&cfg(), "x", &i.to_string()).error));
    }

    #[test]
    fn wrong_answers_hold_their_share_and_leave_the_other_draws_alone() {
        let c = RefBotConfig {
            error_rate: 0.3,
            hang_rate: 0.1,
            ..cfg()
        };
        let wrong = RefBotConfig {
            wrong_rate: 0.2,
            ..c.clone()
        };
        let mut n = 0;
        for i in 0..2000 {
            let id = format!("w-{i}");
            let (a, b) = (
                plan_query(&c, agents::USER_ANALYSIS, &id),
                plan_query(&wrong, agents::USER_ANALYSIS, &id),
            );
            assert_eq!(
                (a.error, a.hang, a.model_latency),
                (b.error, b.hang, b.model_latency)
            );
            n += usize::from(b.wrong);
        }
        // Binomial(2000, 0.2): sd 17.9; ±4 sd.
        assert!((328..=472).contains(&n), "{n}");
        assert_eq!(wrong_answer(0), "I");
        assert_eq!(wrong_answer(5), "I am ");
        assert_eq!(wrong_answer(100).chars().count(), 100);
        assert!(wrong_answer(100).starts_with(WRONG_ANSWER));
    }
}
