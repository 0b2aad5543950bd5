//! An example scenario crate: multi-turn follow-up conversations.
//!
//! The built-in scenarios send independent questions. Many Discord bots keep a
//! conversation per user, so a question like "and in #dev-help?" only makes sense after
//! the one before it. [`FollowUpScenario`] tests that: each simulated user asks about a
//! real member of the server and then follows up twice, with the same `user_id` and
//! `channel` on every turn. The answers must stay grounded in the database (the member's
//! name, the channel's name) and leak nothing.
//!
//! This crate depends on `perf-core` only, like any contributor's scenario crate. To run
//! it, a harness adds it to the registry:
//!
//! ```text
//! let mut registry = perf_synth::ScenarioRegistry::with_builtins();
//! registry.add(perf_synth::ScenarioKind::Custom, custom_scenario::FollowUpScenario::new(5))?;
//! ```
//!
//! See `docs/scenarios.md` for the whole recipe.

use std::time::Duration;

use perf_core::{
    agents, ClosedLoop, ContentProfile, Expectation, LoadProfile, Query, Scenario, ScenarioInfo,
    SplitMix64, StressLevel,
};

/// The scenario's stable name (a key in results and baselines).
pub const NAME: &str = "follow_up_conversations";

/// Multi-turn conversations: per simulated user, a question about a real member and two
/// follow-ups that only make sense in context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpScenario {
    conversations: usize,
}

impl FollowUpScenario {
    /// `conversations` simulated users, three turns each.
    pub fn new(conversations: usize) -> Self {
        Self {
            conversations: conversations.max(1),
        }
    }
}

impl Default for FollowUpScenario {
    fn default() -> Self {
        Self::new(5)
    }
}

impl Scenario for FollowUpScenario {
    fn info(&self) -> ScenarioInfo {
        ScenarioInfo {
            name: NAME.to_owned(),
            description: "Multi-turn conversations whose follow-ups only make sense in context"
                .to_owned(),
            tags: vec!["conversation".to_owned(), "context".to_owned()],
            expected_challenges: vec!["conversation_memory".to_owned()],
            stress_level: StressLevel::Low,
        }
    }

    fn queries(&self, content: &ContentProfile, seed: u64) -> Vec<Query> {
        let mut rng = SplitMix64::derive(seed, NAME);
        let members = &content.users[..content.users.len().min(20)];
        let mut out = Vec::with_capacity(self.conversations * 3);
        for c in 0..self.conversations {
            let member = rng
                .pick(members)
                .map_or_else(|| "alice".to_owned(), |u| u.name.clone());
            let channel = rng
                .pick(&content.channels)
                .map_or_else(|| "general".to_owned(), |ch| ch.name.clone());
            let user_id = format!("conversation-{c:02}");
            let turns = [
                (
                    format!("What does {member} usually talk about?"),
                    agents::USER_ANALYSIS,
                    member.clone(),
                ),
                (
                    format!("And how active are they in #{channel}?"),
                    agents::USER_ANALYSIS,
                    member.clone(),
                ),
                (
                    format!("Summarize #{channel} from the last 7 days"),
                    agents::DIGEST_GENERATION,
                    channel.clone(),
                ),
            ];
            for (t, (text, agent, fact)) in turns.into_iter().enumerate() {
                let mut q = Query::new(format!("{NAME}-{c:02}-{t}"), text, "conversation")
                    .with_scenario(NAME)
                    .with_expected_agent(agent)
                    .with_tag(format!("turn:{t}"))
                    .with_expectation(Expectation::AnswerNotEmpty)
                    .with_expectation(Expectation::NoInternalErrorLeak)
                    .with_expectation(Expectation::AnswerContains { text: fact });
                q.user_id = Some(user_id.clone());
                q.channel = Some(channel.clone());
                out.push(q);
            }
        }
        out
    }

    fn load_profile(&self) -> LoadProfile {
        // One user at a time, so each follow-up is sent after the turn it follows, with
        // a human pause between turns.
        LoadProfile::Closed(ClosedLoop {
            users: 1,
            think_time: Duration::from_millis(200),
            rate_limit_per_second: None,
            duration: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use perf_core::{ChannelStat, UserStat};

    use super::*;

    fn content() -> ContentProfile {
        ContentProfile {
            total_messages: 100,
            channels: vec![ChannelStat {
                name: "dev-help".into(),
                messages: 100,
            }],
            users: vec![
                UserStat {
                    name: "alice".into(),
                    messages: 60,
                },
                UserStat {
                    name: "bob".into(),
                    messages: 40,
                },
            ],
            ..ContentProfile::default()
        }
    }

    #[test]
    fn conversations_are_grounded_ordered_and_deterministic() {
        let s = FollowUpScenario::new(4);
        let q = s.queries(&content(), 7);
        assert_eq!(q, s.queries(&content(), 7));
        assert_eq!(q.len(), 12);
        for turns in q.chunks(3) {
            let user = turns[0].user_id.clone();
            assert!(user.is_some());
            assert!(turns.iter().all(|t| t.user_id == user));
            let member = turns[0]
                .text
                .strip_prefix("What does ")
                .and_then(|r| r.strip_suffix(" usually talk about?"))
                .unwrap();
            assert!(["alice", "bob"].contains(&member));
            assert!(turns[1]
                .expectations
                .contains(&Expectation::AnswerContains {
                    text: member.to_owned()
                }));
            assert_eq!(turns[2].channel.as_deref(), Some("dev-help"));
        }
        assert!(s.load_profile().validate("follow_up").is_ok());
        assert_eq!(s.info().name, NAME);
    }

    #[test]
    fn an_empty_database_still_gives_conversations() {
        let q = FollowUpScenario::default().queries(&ContentProfile::default(), 1);
        assert_eq!(q.len(), 15);
        assert!(q[0].text.contains("alice"));
    }
}
