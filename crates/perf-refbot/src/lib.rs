//! The reference bot under test: an agentic Discord-style bot over the SQLite message
//! database that `perf-synth` generates.
//!
//! [`RefBot`] implements [`perf_core::BotTarget`]. Each query is routed to one of four
//! agents — `server_analysis` (SQL aggregations), `semantic_search` (FTS5 with bm25
//! ranking), `user_analysis` and `digest_generation` (an extractive digest of a channel
//! over a time window) — and every agent does real work on the data. A seeded latency
//! model per agent ([`plan_query`]) imitates the LLM calls of a real bot, and knobs in
//! [`RefBotConfig`] inject errors, hangs, wrong answers and slowdowns. An opt-in LLM-like mode
//! ([`LlmConfig`], planned by [`plan_llm_query`]) puts model slots with a FIFO queue in
//! front of the agents and streams each answer as tokens. Every SQL statement is
//! parameterized; user text reaches FTS5 only as double-quoted alphanumeric terms (except
//! in the deliberately [`naive`](RefBotConfig::naive) mode). `docs/refbot.md` documents
//! the routing, the answers and the model.

mod agents;
mod bot;
mod config;
mod error;
mod llm;
mod model;
mod route;
mod text;

pub use bot::RefBot;
pub use config::RefBotConfig;
pub use error::RefBotError;
pub use llm::{
    plan_llm_query, LlmAgentParams, LlmAgents, LlmConfig, LlmPlan, LLM_SIGMA, MAX_LLM_TOKENS,
};
pub use model::{
    agent_median_latency, plan_query, wrong_answer, QueryPlan, LATENCY_SIGMA, WRONG_ANSWER,
};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    /// Fails to compile if a public type stops being `Send + Sync`.
    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<RefBot>();
        assert_send_sync::<RefBotConfig>();
        assert_send_sync::<RefBotError>();
        assert_send_sync::<QueryPlan>();
        assert_send_sync::<LlmConfig>();
        assert_send_sync::<LlmPlan>();
    }
}
