use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Query, TargetError};

/// What a bot answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BotResponse {
    /// The answer text.
    pub answer: String,
    /// The agents that handled the query, in order; usually one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Time from sending the query to the first token, for streaming targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<Duration>,
    /// Tokens in the prompt, when the bot reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Tokens in the answer, when the bot reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Anything else the bot returned, kept as-is.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
}

impl BotResponse {
    /// An answer from `agent`.
    pub fn new(answer: impl Into<String>, agent: impl Into<String>) -> Self {
        Self {
            answer: answer.into(),
            agents: vec![agent.into()],
            ..Self::default()
        }
    }

    /// The first agent used, if any.
    pub fn primary_agent(&self) -> Option<&str> {
        self.agents.first().map(String::as_str)
    }
}

/// A description of a target, used in reports and baseline fingerprints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Short name, such as `refbot` or a URL.
    pub name: String,
    /// Version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The transport: `in_process`, `http` or `command`.
    pub transport: String,
}

impl Default for TargetInfo {
    fn default() -> Self {
        Self {
            name: "unnamed".to_owned(),
            version: None,
            transport: "in_process".to_owned(),
        }
    }
}

/// A bot under test.
///
/// Object-safe and `Send + Sync`, so a runner holds an `Arc<dyn BotTarget>` and calls
/// [`execute`](BotTarget::execute) from many tasks at once. Implementations report
/// failures as [`TargetError`]s; they must not panic on anything the bot sends (a panic is
/// still caught and recorded by the runner, but it costs a task).
#[async_trait]
pub trait BotTarget: Send + Sync {
    /// Prepares the target (opens connections, starts a process). Called once before a run.
    async fn initialize(&self) -> Result<(), TargetError> {
        Ok(())
    }

    /// Sends one query and waits for its answer.
    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError>;

    /// Releases resources. Called once after a run, even an interrupted one.
    async fn shutdown(&self) -> Result<(), TargetError> {
        Ok(())
    }

    /// The operating-system process that serves the bot, for resource monitoring.
    /// In-process targets return the harness's own id or `None`.
    fn process_id(&self) -> Option<u32> {
        None
    }

    /// Name, version and transport of the target.
    fn describe(&self) -> TargetInfo {
        TargetInfo::default()
    }
}
