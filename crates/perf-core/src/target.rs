use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{Query, Redactor, TargetError};

/// What a bot answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BotResponse {
    /// The answer text.
    pub answer: String,
    /// The agents that handled the query, in order; usually one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Time from sending the query to the first piece of answer text, for streaming
    /// targets (the client's clock: the target reads it when the first delta arrives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token: Option<Duration>,
    /// Time from sending the query to the last piece of answer text, for streaming
    /// targets. With [`stream_chunks`](Self::stream_chunks) it gives the inter-token
    /// latency: `(last − first) / (chunks − 1)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_last_token: Option<Duration>,
    /// Pieces of answer text (deltas) received, for streaming targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_chunks: Option<u64>,
    /// Tokens in the prompt, when the bot reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<u64>,
    /// Tokens in the answer: reported by the bot (`usage`) or counted by the target, as
    /// [`token_source`](Self::token_source) says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens: Option<u64>,
    /// Where [`completion_tokens`](Self::completion_tokens) came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_source: Option<TokenSource>,
    /// Anything else the bot returned, kept as-is.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metadata: serde_json::Value,
    /// Time the target spent after the answer was final only to know it was (a Discord
    /// answer is final when nothing more came for a quiet period): taken off the
    /// latency and service time, so it is not charged to the bot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settle: Option<Duration>,
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

/// Where a token count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The bot said so (`usage.completion_tokens`, or `tokens` on a JSON line).
    Reported,
    /// The target counted streamed pieces of text (one delta counts as one token).
    CountedChunks,
    /// Counted by us as whitespace-separated words of the answer.
    CountedWords,
}

impl TokenSource {
    /// A stable name for reports: `reported`, `counted_chunks` or `counted_words`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Reported => "reported",
            TokenSource::CountedChunks => "counted_chunks",
            TokenSource::CountedWords => "counted_words",
        }
    }
}

/// How the suite reaches a bot; serialized as `in_process`, `http` or `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Called in the suite's own process.
    #[default]
    InProcess,
    /// Over HTTP (a JSON API or an OpenAI-compatible endpoint).
    Http,
    /// A child process speaking JSON lines.
    Command,
    /// A Discord bot reached through a fake Discord (gateway and REST).
    Discord,
}

impl Transport {
    /// The stable name: `in_process`, `http`, `command` or `discord`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::InProcess => "in_process",
            Transport::Http => "http",
            Transport::Command => "command",
            Transport::Discord => "discord",
        }
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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
    /// How the suite reaches the bot.
    pub transport: Transport,
}

impl TargetInfo {
    /// A target named `name` reached by `transport`, of unknown version.
    pub fn new(name: impl Into<String>, transport: Transport) -> Self {
        Self {
            name: name.into(),
            version: None,
            transport,
        }
    }
}

impl Default for TargetInfo {
    fn default() -> Self {
        Self {
            name: "unnamed".to_owned(),
            version: None,
            transport: Transport::InProcess,
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

    /// Every secret the target was configured with (auth token, URL credentials and query
    /// values, secret header values, secret environment values of a child process): the
    /// runner removes them from everything the bot sends before it is stored or printed.
    ///
    /// Required, with no default, so a target cannot forget its secrets: one that holds
    /// none says so with `Redactor::default()`. A target that wraps another returns (at
    /// least) the inner target's redactor.
    fn redactor(&self) -> Redactor;
}
