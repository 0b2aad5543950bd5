use serde::{Deserialize, Serialize};

/// What kind of failure a target reported; the stable, serializable part of a
/// [`TargetError`], used as a key in error breakdowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target could not be reached (connection refused, process not running).
    Connect,
    /// The target did not answer in time.
    Timeout,
    /// The target answered with a non-success status (for example HTTP 5xx).
    Status,
    /// The answer could not be understood (bad JSON, missing field, too large).
    InvalidResponse,
    /// The bot itself reported a failure in a well-formed answer.
    Bot,
    /// The bot process died while the query was in flight.
    Crashed,
    /// The target's own code panicked inside `execute`.
    Panic,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "status",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Bot => "bot",
            ErrorKind::Crashed => "crashed",
            ErrorKind::Panic => "panic",
            ErrorKind::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of one query against a [`crate::BotTarget`].
///
/// Target errors are data: the runner records them as samples and goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{kind}: {message}")]
pub struct TargetError {
    /// The failure class.
    pub kind: ErrorKind,
    /// A human-readable description (never contains credentials).
    pub message: String,
}

impl TargetError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A connection failure.
    pub fn connect(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Connect, message)
    }

    /// A timeout.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Timeout, message)
    }

    /// A bot-reported failure.
    pub fn bot(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Bot, message)
    }

    /// An answer that could not be understood.
    pub fn invalid_response(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidResponse, message)
    }
}

/// An invalid value in a configuration or load profile.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid value for `{key}`: {message}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The configuration key, as a dotted path (for example `parallel_execution.max_concurrent`).
    pub key: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl ConfigError {
    /// An error for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}
