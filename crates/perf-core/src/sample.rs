use serde::{Deserialize, Serialize};

use crate::{ErrorKind, ExpectationFailure};

/// How one query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Answered, and every expectation held.
    Ok,
    /// The target reported an error.
    Error(ErrorKind),
    /// No answer within the query timeout.
    Timeout,
    /// Answered, but an expectation failed.
    FailedExpectation,
    /// Never sent: an open-loop arrival dropped at the in-flight cap, or cancelled
    /// before it started.
    Dropped,
}

impl Outcome {
    /// `true` only for [`Outcome::Ok`].
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// A stable name for breakdowns: `ok`, `timeout`, `failed_expectation`, `dropped`, or
    /// `error:<kind>`.
    pub fn label(self) -> String {
        match self {
            Outcome::Ok => "ok".to_owned(),
            Outcome::Error(k) => format!("error:{k}"),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::FailedExpectation => "failed_expectation".to_owned(),
            Outcome::Dropped => "dropped".to_owned(),
        }
    }
}

/// The record of one query: what was asked, how it ended and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// The query's id.
    pub query_id: String,
    /// The query's scenario.
    pub scenario: String,
    /// The query's category.
    pub category: String,
    /// The agent the query should have gone to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_agent: Option<String>,
    /// The agent that answered (first of the response's agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Final outcome, after retries.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Outcome of the first attempt, when retries happened, so a retry never hides a
    /// failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt: Option<Outcome>,
    /// Attempts made (1 without retries; 0 when dropped).
    pub attempts: u32,
    /// Microseconds from the run's start to the query's intended start.
    pub scheduled_at_us: u64,
    /// Microseconds the actual start lagged behind the intended one.
    pub start_lag_us: u64,
    /// Latency from the intended start to the answer, microseconds: includes any
    /// queueing in the harness or the bot (no coordinated omission).
    pub latency_us: u64,
    /// Time from the actual start to the answer, microseconds.
    pub service_us: u64,
    /// Time to first token, microseconds, from the actual start (like `service_us`), for
    /// streaming targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_us: Option<u64>,
    /// Mean gap between streamed pieces of this answer, microseconds:
    /// `(last − first) / (chunks − 1)`; needs two pieces or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_us: Option<u64>,
    /// Time per output token after the first, microseconds:
    /// `(last token − first token) / (tokens − 1)`; needs two tokens or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_us: Option<u64>,
    /// Tokens in the answer (reported by the bot or counted; see `BotResponse`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Error text for failed queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Expectations that did not hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_expectations: Vec<ExpectationFailure>,
    /// The answer text, truncated, kept for error examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_excerpt: Option<String>,
}

impl Sample {
    /// A query answered (or not, as `outcome` says) in `latency_us`, started on time at the
    /// run's start in one attempt: no agents, no error, no expectations. Set other fields
    /// with struct update syntax (`Sample { agent, ..Sample::new(..) }`).
    pub fn new(
        query_id: impl Into<String>,
        scenario: impl Into<String>,
        category: impl Into<String>,
        outcome: Outcome,
        latency_us: u64,
    ) -> Self {
        Self {
            query_id: query_id.into(),
            scenario: scenario.into(),
            category: category.into(),
            expected_agent: None,
            agent: None,
            outcome,
            first_attempt: None,
            attempts: 1,
            scheduled_at_us: 0,
            start_lag_us: 0,
            latency_us,
            service_us: latency_us,
            ttft_us: None,
            itl_us: None,
            tpot_us: None,
            output_tokens: None,
            error: None,
            failed_expectations: Vec::new(),
            answer_excerpt: None,
        }
    }

    /// Whether the answer came from the expected agent; `None` when nothing was expected
    /// or nothing answered.
    pub fn routed_correctly(&self) -> Option<bool> {
        match (&self.expected_agent, &self.agent) {
            (Some(e), Some(a)) => Some(e == a),
            (Some(_), None) if matches!(self.outcome, Outcome::Ok | Outcome::FailedExpectation) => {
                Some(false)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_serializes_flat() {
        let json = serde_json::to_string(&Outcome::Error(ErrorKind::Timeout)).unwrap();
        assert_eq!(json, r#"{"outcome":"error","kind":"timeout"}"#);
        assert_eq!(Outcome::Error(ErrorKind::Status).label(), "error:status");
        assert!(Outcome::Ok.is_success());
        assert!(!Outcome::FailedExpectation.is_success());
    }
}
