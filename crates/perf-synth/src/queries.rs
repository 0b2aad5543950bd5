use perf_core::{agents, ContentProfile, Expectation, Query, SplitMix64};

/// Scenario name of the standard critical-path queries.
pub const STANDARD_SCENARIO: &str = "standard";

/// Builds `count` standard queries spread evenly over the four critical paths, each with
/// its expected agent and expectations the database makes checkable (the real most
/// active channel, a user's real message count, a term that occurs). Deterministic in
/// `seed`.
pub fn generate_standard_queries(content: &ContentProfile, count: usize, seed: u64) -> Vec<Query> {
    let mut rng = SplitMix64::derive(seed, "standard-queries");
    (0..count)
        .map(|i| {
            let agent = agents::ALL[i % agents::ALL.len()];
            let (text, facts) = match agent {
                agents::SERVER_ANALYSIS => server_query(content, &mut rng),
                agents::SEMANTIC_SEARCH => search_query(content, &mut rng),
                agents::USER_ANALYSIS => user_query(content, &mut rng),
                _ => digest_query(content, &mut rng),
            };
            let mut q = Query::new(format!("std-{i:04}"), text, agent)
                .with_scenario(STANDARD_SCENARIO)
                .with_expected_agent(agent)
                .with_tag("critical_path")
                .with_expectation(Expectation::AnswerNotEmpty)
                .with_expectation(Expectation::NoInternalErrorLeak);
            q.expectations.extend(facts);
            q
        })
        .collect()
}

fn contains(text: impl Into<String>) -> Expectation {
    Expectation::AnswerContains { text: text.into() }
}

fn server_query(c: &ContentProfile, rng: &mut SplitMix64) -> (String, Vec<Expectation>) {
    let top_channel = c.channels.first().map(|ch| ch.name.clone());
    let top_user = c.users.first().map(|u| u.name.clone());
    match rng.below(4) {
        0 => (
            "Which channel is the most active in this server?".to_owned(),
            top_channel.map(contains).into_iter().collect(),
        ),
        1 => (
            "Who are the most active users in the server?".to_owned(),
            top_user.map(contains).into_iter().collect(),
        ),
        2 => (
            "How many messages have been sent in this server?".to_owned(),
            vec![contains(c.total_messages.to_string())],
        ),
        _ => (
            "Give me an overview of server activity and statistics".to_owned(),
            top_channel.map(contains).into_iter().collect(),
        ),
    }
}

fn search_query(c: &ContentProfile, rng: &mut SplitMix64) -> (String, Vec<Expectation>) {
    let pool = &c.top_terms[..c.top_terms.len().min(30)];
    let Some(term) = rng.pick(pool).map(|t| t.term.clone()) else {
        return (
            "Find messages about anything interesting".to_owned(),
            Vec::new(),
        );
    };
    let text = match rng.below(3) {
        0 => format!("Search for messages about {term}"),
        1 => format!("Find discussions mentioning {term}"),
        _ => format!("What have people said about {term}?"),
    };
    (text, vec![contains(term)])
}

fn user_query(c: &ContentProfile, rng: &mut SplitMix64) -> (String, Vec<Expectation>) {
    let pool = &c.users[..c.users.len().min(40)];
    let Some(user) = rng.pick(pool) else {
        return ("Who is the most active user?".to_owned(), Vec::new());
    };
    let text = match rng.below(3) {
        0 => format!("What does {} usually talk about?", user.name),
        1 => format!("Analyze the activity of user {}", user.name),
        _ => format!("How active is {} in this server?", user.name),
    };
    let facts = vec![
        contains(user.name.clone()),
        contains(format!("{} messages", user.messages)),
    ];
    (text, facts)
}

fn digest_query(c: &ContentProfile, rng: &mut SplitMix64) -> (String, Vec<Expectation>) {
    let Some(channel) = rng.pick(&c.channels).map(|ch| ch.name.clone()) else {
        return (
            "Summarize the server for the last 7 days".to_owned(),
            Vec::new(),
        );
    };
    let text = match rng.below(3) {
        0 => format!("Summarize #{channel} from the last 7 days"),
        1 => format!("Give me a digest of what happened in #{channel} this week"),
        _ => format!("What were the highlights in #{channel} over the past 30 days?"),
    };
    (text, vec![contains(channel)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::{ChannelStat, TermStat, UserStat};

    fn profile() -> ContentProfile {
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
            users: vec![UserStat {
                name: "alice".into(),
                messages: 99,
            }],
            top_terms: vec![TermStat {
                term: "rust".into(),
                count: 50,
            }],
            first_message_at: 0,
            last_message_at: 86_400 * 30,
        }
    }

    #[test]
    fn queries_spread_over_paths_and_are_deterministic() {
        let p = profile();
        let a = generate_standard_queries(&p, 50, 1);
        assert_eq!(a, generate_standard_queries(&p, 50, 1));
        assert_ne!(a, generate_standard_queries(&p, 50, 2));
        for agent in agents::ALL {
            let n = a
                .iter()
                .filter(|q| q.expected_agent.as_deref() == Some(agent))
                .count();
            assert!((12..=13).contains(&n), "{agent}: {n}");
        }
        let user_q = a
            .iter()
            .find(|q| q.category == agents::USER_ANALYSIS)
            .unwrap();
        assert!(user_q.expectations.contains(&Expectation::AnswerContains {
            text: "99 messages".into()
        }));
    }

    #[test]
    fn an_empty_profile_still_gives_queries() {
        let q = generate_standard_queries(&ContentProfile::default(), 8, 3);
        assert_eq!(q.len(), 8);
        assert!(q.iter().all(|q| !q.text.is_empty()));
    }

    #[test]
    fn snapshot_of_generated_queries() {
        let q = generate_standard_queries(&profile(), 8, 42);
        insta::assert_json_snapshot!(q);
    }
}
