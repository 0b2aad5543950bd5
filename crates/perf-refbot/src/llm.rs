//! The LLM-like mode: model slots with a FIFO queue in front, and answers streamed as
//! tokens after a time to first token, with seeded, heavy-tailed service times.

use std::time::Duration;

use perf_core::{agents, SplitMix64};
use serde::{Deserialize, Serialize};

use crate::{RefBotConfig, RefBotError};

/// Spread (σ of the underlying normal) of the log-normal draws of the LLM mode when the
/// configuration does not set `sigma`: time to first token, token gap and answer length
/// each get `median × exp(σ·z)`.
pub const LLM_SIGMA: f64 = 0.5;

/// Most tokens one planned answer may have (a configured median and a drawn length alike).
pub const MAX_LLM_TOKENS: u64 = 100_000;

/// Most model slots.
const MAX_SLOTS: u32 = 4096;
/// Longest configured median time (time to first token or token gap), seconds.
const MAX_CONFIGURED_SECS: f64 = 3_600.0;
/// Longest drawn time; keeps a huge `time_scale` or tail draw from overflowing.
const MAX_DRAWN_SECS: f64 = 86_400.0;
/// Largest `sigma`: beyond it the tail is no longer a model of anything.
const MAX_SIGMA: f64 = 3.0;
/// Separates the LLM stream of a query id from its latency and fault streams.
const LLM_STREAM_SALT: u64 = 0x6c6c_6d5f_706c_616e;

/// The LLM-like mode of the reference bot (`llm` in the refbot configuration).
///
/// Off unless present. Every query holds one of `slots` model slots while the agent works
/// and its answer is generated; queries wait for a slot in arrival order. The answer is
/// streamed as tokens: the first after the time to first token, the others one token gap
/// apart. See `docs/refbot.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Model slots: queries answered at once; the rest wait in a FIFO queue. Default 4.
    pub slots: u32,
    /// Multiplies every modelled time (time to first token and token gap); `0.01` makes a
    /// short test run. Default 1.0.
    pub time_scale: f64,
    /// σ of the log-normal draws; `0` makes every query take exactly its agent's medians.
    /// Default [`LLM_SIGMA`].
    pub sigma: f64,
    /// Medians per agent.
    pub agents: LlmAgents,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            slots: 4,
            time_scale: 1.0,
            sigma: LLM_SIGMA,
            agents: LlmAgents::default(),
        }
    }
}

/// The medians of one agent in the LLM mode. An agent given in the configuration needs
/// all three fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmAgentParams {
    /// Median time to first token (prefill), seconds.
    pub ttft: f64,
    /// Median gap between two tokens (decode), seconds.
    pub token_gap: f64,
    /// Median answer length, tokens.
    pub tokens: u64,
}

impl LlmAgentParams {
    const fn new(ttft: f64, token_gap: f64, tokens: u64) -> Self {
        Self {
            ttft,
            token_gap,
            tokens,
        }
    }
}

/// The medians of each agent (`llm.agents`). Defaults: server_analysis 0.8 s / 30 ms /
/// 60 tokens, semantic_search 1.2 s / 25 ms / 120, user_analysis 1.0 s / 30 ms / 90,
/// digest_generation 2.0 s / 20 ms / 250.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmAgents {
    /// The `server_analysis` agent.
    pub server_analysis: LlmAgentParams,
    /// The `semantic_search` agent.
    pub semantic_search: LlmAgentParams,
    /// The `user_analysis` agent.
    pub user_analysis: LlmAgentParams,
    /// The `digest_generation` agent.
    pub digest_generation: LlmAgentParams,
}

impl Default for LlmAgents {
    fn default() -> Self {
        Self {
            server_analysis: LlmAgentParams::new(0.8, 0.030, 60),
            semantic_search: LlmAgentParams::new(1.2, 0.025, 120),
            user_analysis: LlmAgentParams::new(1.0, 0.030, 90),
            digest_generation: LlmAgentParams::new(2.0, 0.020, 250),
        }
    }
}

impl LlmAgents {
    /// The medians of `agent` (`user_analysis`'s for an agent the bot does not have).
    pub fn get(&self, agent: &str) -> &LlmAgentParams {
        match agent {
            agents::SERVER_ANALYSIS => &self.server_analysis,
            agents::SEMANTIC_SEARCH => &self.semantic_search,
            agents::DIGEST_GENERATION => &self.digest_generation,
            _ => &self.user_analysis,
        }
    }

    fn named(&self) -> [(&'static str, &LlmAgentParams); 4] {
        [
            ("llm.agents.server_analysis", &self.server_analysis),
            ("llm.agents.semantic_search", &self.semantic_search),
            ("llm.agents.user_analysis", &self.user_analysis),
            ("llm.agents.digest_generation", &self.digest_generation),
        ]
    }
}

impl LlmConfig {
    /// Checks every knob; the error names the key (`llm.slots`, `llm.agents.<agent>`, ...).
    pub fn validate(&self) -> Result<(), RefBotError> {
        let bad = |key: &'static str, message: String| Err(RefBotError::Config { key, message });
        if !(1..=MAX_SLOTS).contains(&self.slots) {
            return bad(
                "llm.slots",
                format!("must be between 1 and {MAX_SLOTS}, got {}", self.slots),
            );
        }
        if !(self.time_scale.is_finite() && self.time_scale >= 0.0) {
            return bad(
                "llm.time_scale",
                format!("must be a finite number >= 0, got {}", self.time_scale),
            );
        }
        if !(self.sigma.is_finite() && (0.0..=MAX_SIGMA).contains(&self.sigma)) {
            return bad(
                "llm.sigma",
                format!("must be between 0 and {MAX_SIGMA}, got {}", self.sigma),
            );
        }
        for (key, p) in self.agents.named() {
            for (what, secs) in [("ttft", p.ttft), ("token_gap", p.token_gap)] {
                if !(secs.is_finite() && (0.0..=MAX_CONFIGURED_SECS).contains(&secs)) {
                    return bad(
                        key,
                        format!(
                            "`{what}` must be between 0 and {MAX_CONFIGURED_SECS} seconds, got {secs}"
                        ),
                    );
                }
            }
            if !(1..=MAX_LLM_TOKENS).contains(&p.tokens) {
                return bad(
                    key,
                    format!(
                        "`tokens` must be between 1 and {MAX_LLM_TOKENS}, got {}",
                        p.tokens
                    ),
                );
            }
        }
        Ok(())
    }
}

/// What the LLM mode decided for one query: the ground truth a test can compare the
/// measured figures with. Times count from the moment the query got its model slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmPlan {
    /// Time from getting the slot to the first token.
    pub time_to_first_token: Duration,
    /// Gap between two consecutive tokens.
    pub token_gap: Duration,
    /// Planned answer length, tokens (see [`tokens_for`](Self::tokens_for)).
    pub tokens: u64,
}

impl LlmPlan {
    /// Tokens actually streamed for `answer`: the planned length, but at most one per
    /// character (a token is never empty) and at least one.
    pub fn tokens_for(&self, answer: &str) -> u64 {
        let chars = answer.chars().count() as u64;
        self.tokens.min(chars).max(1)
    }

    /// When token `i` (from 0) is sent, counted from getting the slot.
    pub fn token_at(&self, i: u64) -> Duration {
        let gaps = u32::try_from(i).unwrap_or(u32::MAX);
        self.time_to_first_token
            .saturating_add(self.token_gap.saturating_mul(gaps))
    }

    /// The whole service time of an answer `answer`: from getting the slot to its last
    /// token.
    pub fn service_time(&self, answer: &str) -> Duration {
        self.token_at(self.tokens_for(answer) - 1)
    }
}

/// Draws the LLM plan of query `query_id` routed to `agent`; `None` when the LLM mode is
/// off.
///
/// With z₁, z₂, z₃ standard normal from `SplitMix64::derive(seed ^ salt, query_id)`:
/// time to first token = ttft(agent) × exp(σ·z₁) × time_scale × latency_factor, token gap
/// = token_gap(agent) × exp(σ·z₂) × time_scale × latency_factor, tokens =
/// round(tokens(agent) × exp(σ·z₃)) within 1..=[`MAX_LLM_TOKENS`]. Times are rounded to
/// whole milliseconds (tokio's timer resolution) and capped at a day. A pure function of
/// the configuration, the agent and the id.
pub fn plan_llm_query(config: &RefBotConfig, agent: &str, query_id: &str) -> Option<LlmPlan> {
    let llm = config.llm.as_ref()?;
    let medians = llm.agents.get(agent);
    let mut rng = SplitMix64::derive(config.seed ^ LLM_STREAM_SALT, query_id);
    let (z1, z2, z3) = (rng.normal(), rng.normal(), rng.normal());
    let scale = llm.time_scale * config.latency_factor;
    let draw = |median: f64, z: f64| {
        let secs = median * (llm.sigma * z).exp() * scale;
        let secs = if secs.is_finite() {
            secs.clamp(0.0, MAX_DRAWN_SECS)
        } else {
            0.0
        };
        // Whole milliseconds, tokio's timer resolution: on a paused test clock every
        // deadline is then met exactly. In range after the clamp, so the cast is exact.
        Duration::from_millis((secs * 1e3).round() as u64)
    };
    let tokens = (medians.tokens as f64 * (llm.sigma * z3).exp()).round();
    let tokens = if tokens.is_finite() {
        // In range after the clamp, so the cast is exact.
        tokens.clamp(1.0, MAX_LLM_TOKENS as f64) as u64
    } else {
        1
    };
    Some(LlmPlan {
        time_to_first_token: draw(medians.ttft, z1),
        token_gap: draw(medians.token_gap, z2),
        tokens,
    })
}

/// `answer` cut into `n` non-empty pieces of nearly equal character counts that rejoin
/// into `answer` (fewer when it has fewer than `n` characters; one empty piece for an
/// empty answer).
pub(crate) fn token_pieces(answer: &str, n: u64) -> Vec<&str> {
    let bounds: Vec<usize> = answer
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(answer.len()))
        .collect();
    let chars = (bounds.len() - 1) as u64;
    let n = n.min(chars).max(1);
    (0..n)
        .map(|i| {
            // i ≤ n ≤ chars, so the products stay far below u64::MAX and index `bounds`.
            let start = (i * chars / n) as usize;
            let end = ((i + 1) * chars / n) as usize;
            &answer[bounds[start]..bounds[end]]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(llm: LlmConfig) -> RefBotConfig {
        RefBotConfig {
            llm: Some(llm),
            ..RefBotConfig::default()
        }
    }

    #[test]
    fn pieces_rejoin_into_the_answer() {
        for (text, n) in [
            ("hello world", 3),
            ("héllo wörld ✓", 13),
            ("ab", 10),
            ("", 5),
            ("x", 1),
        ] {
            let pieces = token_pieces(text, n);
            assert_eq!(pieces.concat(), text);
            let plan = LlmPlan {
                time_to_first_token: Duration::ZERO,
                token_gap: Duration::ZERO,
                tokens: n,
            };
            assert_eq!(pieces.len() as u64, plan.tokens_for(text), "{text:?}");
            if !text.is_empty() {
                assert!(pieces.iter().all(|p| !p.is_empty()), "{pieces:?}");
            }
        }
    }

    #[test]
    fn sigma_zero_gives_the_medians_and_time_scale_scales() {
        let c = on(LlmConfig {
            sigma: 0.0,
            time_scale: 0.5,
            ..LlmConfig::default()
        });
        let p = plan_llm_query(&c, agents::DIGEST_GENERATION, "q-1").expect("llm on");
        assert_eq!(p.time_to_first_token, Duration::from_secs(1));
        assert_eq!(p.token_gap, Duration::from_millis(10));
        assert_eq!(p.tokens, 250);
        assert_eq!(
            p.service_time(&"x".repeat(1000)),
            Duration::from_millis(1000 + 249 * 10)
        );
        assert_eq!(
            plan_llm_query(&RefBotConfig::default(), "x", "q-1"),
            None,
            "off by default"
        );
    }

    #[test]
    fn plans_are_deterministic_and_heavy_tailed() {
        let c = on(LlmConfig::default());
        let a = plan_llm_query(&c, agents::SEMANTIC_SEARCH, "q-7");
        assert_eq!(a, plan_llm_query(&c, agents::SEMANTIC_SEARCH, "q-7"));
        let mut ttfts: Vec<f64> = (0..4001)
            .filter_map(|i| plan_llm_query(&c, agents::SEMANTIC_SEARCH, &format!("t-{i}")))
            .map(|p| p.time_to_first_token.as_secs_f64())
            .collect();
        ttfts.sort_by(f64::total_cmp);
        let median = ttfts[2000];
        let p99 = ttfts[3960];
        assert!((median - 1.2).abs() < 0.08, "{median}");
        // exp(0.5 × 2.326) ≈ 3.2: the tail is far above the median.
        assert!(p99 / median > 2.5 && p99 / median < 4.0, "{p99} / {median}");
    }

    #[test]
    fn bad_knobs_are_named() {
        let check = |llm: LlmConfig, key: &str| {
            let err = llm.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        };
        check(
            LlmConfig {
                slots: 0,
                ..LlmConfig::default()
            },
            "llm.slots",
        );
        check(
            LlmConfig {
                time_scale: f64::NAN,
                ..LlmConfig::default()
            },
            "llm.time_scale",
        );
        check(
            LlmConfig {
                sigma: -1.0,
                ..LlmConfig::default()
            },
            "llm.sigma",
        );
        let mut agents = LlmAgents::default();
        agents.user_analysis.token_gap = f64::INFINITY;
        check(
            LlmConfig {
                agents: agents.clone(),
                ..LlmConfig::default()
            },
            "llm.agents.user_analysis",
        );
        agents = LlmAgents::default();
        agents.digest_generation.tokens = 0;
        check(
            LlmConfig {
                agents,
                ..LlmConfig::default()
            },
            "llm.agents.digest_generation",
        );
        assert!(LlmConfig::default().validate().is_ok());
    }

    #[test]
    fn parses_from_json_and_rejects_unknown_keys() {
        let c: RefBotConfig = serde_json::from_str(
            r#"{"llm": {"slots": 2, "agents": {"semantic_search": {"ttft": 0.5, "token_gap": 0.01, "tokens": 40}}}}"#,
        )
        .expect("valid");
        let llm = c.llm.expect("llm on");
        assert_eq!(llm.slots, 2);
        assert_eq!(llm.agents.semantic_search.tokens, 40);
        assert_eq!(
            llm.agents.server_analysis,
            LlmAgents::default().server_analysis
        );
        let err = serde_json::from_str::<RefBotConfig>(r#"{"llm": {"slotz": 2}}"#).unwrap_err();
        assert!(err.to_string().contains("slotz"), "{err}");
        let err = serde_json::from_str::<RefBotConfig>(
            r#"{"llm": {"agents": {"semantic_search": {"ttft": 0.5}}}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("token_gap"), "{err}");
    }
}
