use serde::{Deserialize, Serialize};

use crate::Expectation;

/// Names of the agents an agentic Discord bot typically routes to; the critical paths of
/// the original suite. Targets may use any other agent names.
pub mod agents {
    /// Server-wide statistics: activity per channel and user, totals.
    pub const SERVER_ANALYSIS: &str = "server_analysis";
    /// Full-text or semantic search over messages.
    pub const SEMANTIC_SEARCH: &str = "semantic_search";
    /// Activity and interests of one user.
    pub const USER_ANALYSIS: &str = "user_analysis";
    /// A digest of a channel over a time window.
    pub const DIGEST_GENERATION: &str = "digest_generation";
    /// All four, in the order the original suite lists them.
    pub const ALL: [&str; 4] = [
        SERVER_ANALYSIS,
        SEMANTIC_SEARCH,
        USER_ANALYSIS,
        DIGEST_GENERATION,
    ];
}

/// One query sent to a bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// Unique within a run.
    pub id: String,
    /// The message text, exactly as a user would type it (may be hostile on purpose).
    pub text: String,
    /// A grouping for reports, such as a critical path or an edge-case class.
    pub category: String,
    /// The scenario that produced the query.
    pub scenario: String,
    /// The agent the bot should route this query to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_agent: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What a correct, graceful answer looks like.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Expectation>,
    /// The Discord user the query comes from, when the scenario simulates one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The channel the query is posted in, when the scenario simulates one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Query {
    /// A query with the given id, text and category and no expectations.
    pub fn new(
        id: impl Into<String>,
        text: impl Into<String>,
        category: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            category: category.into(),
            scenario: String::new(),
            expected_agent: None,
            tags: Vec::new(),
            expectations: Vec::new(),
            user_id: None,
            channel: None,
        }
    }

    /// Sets the scenario name.
    pub fn with_scenario(mut self, scenario: impl Into<String>) -> Self {
        self.scenario = scenario.into();
        self
    }

    /// Sets the expected agent.
    pub fn with_expected_agent(mut self, agent: impl Into<String>) -> Self {
        self.expected_agent = Some(agent.into());
        self
    }

    /// Adds an expectation.
    pub fn with_expectation(mut self, expectation: Expectation) -> Self {
        self.expectations.push(expectation);
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}
