use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{LlmConfig, RefBotError};

/// Configuration of the reference bot. Every field has a default, so `{}` is a valid
/// configuration; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefBotConfig {
    /// The message database (the perf-synth schema). Default `data/discord_messages.db`.
    pub database_path: PathBuf,
    /// Seed of the latency and fault model. Default 42.
    pub seed: u64,
    /// Multiplies the modelled "LLM call" latencies; `0` turns them off. Default 1.0.
    pub latency_scale: f64,
    /// Slowdown knob applied to the whole answer time (modelled latency and real work):
    /// `1.5` makes the bot 50% slower. Default 1.0.
    pub latency_factor: f64,
    /// Fraction of queries answered with a bot error (`ErrorKind::Bot`). Default 0.
    pub error_rate: f64,
    /// Fraction of queries that hang for [`hang_duration`](Self::hang_duration) before
    /// they are answered. Default 0.
    pub hang_rate: f64,
    /// Fraction of queries answered wrongly: a non-answer of the right answer's length
    /// that names none of the facts a grounded expectation looks for
    /// ([`WRONG_ANSWER`](crate::WRONG_ANSWER)). Drawn per query id, like the faults.
    /// Default 0.
    pub wrong_rate: f64,
    /// How long a hanging query hangs; seconds (a float) in serialized form. Default 60 s.
    #[serde(with = "secs_f64")]
    pub hang_duration: Duration,
    /// A deliberately naive mode for demonstrating robustness checks: answers echo the raw
    /// query text, search passes the raw topic to FTS5, and SQL error text goes into the
    /// answer. Default false.
    pub naive: bool,
    /// The LLM-like mode (model slots, a FIFO queue, streamed tokens); off when absent.
    /// See [`LlmConfig`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
}

impl Default for RefBotConfig {
    fn default() -> Self {
        Self {
            database_path: PathBuf::from("data/discord_messages.db"),
            seed: 42,
            latency_scale: 1.0,
            latency_factor: 1.0,
            error_rate: 0.0,
            hang_rate: 0.0,
            wrong_rate: 0.0,
            hang_duration: Duration::from_secs(60),
            naive: false,
            llm: None,
        }
    }
}

impl RefBotConfig {
    /// Checks that every knob is in range; the error names the key.
    pub fn validate(&self) -> Result<(), RefBotError> {
        let bad = |key: &'static str, message: String| Err(RefBotError::Config { key, message });
        if !(self.latency_scale.is_finite() && self.latency_scale >= 0.0) {
            return bad(
                "latency_scale",
                format!("must be a finite number >= 0, got {}", self.latency_scale),
            );
        }
        if !(self.latency_factor.is_finite() && self.latency_factor > 0.0) {
            return bad(
                "latency_factor",
                format!("must be a finite number > 0, got {}", self.latency_factor),
            );
        }
        for (key, rate) in [
            ("error_rate", self.error_rate),
            ("hang_rate", self.hang_rate),
            ("wrong_rate", self.wrong_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(key, format!("must be between 0 and 1, got {rate}"));
            }
        }
        if let Some(llm) = &self.llm {
            llm.validate()?;
        }
        Ok(())
    }
}

/// `Duration` as seconds in a float, like the original suite's timeouts.
mod secs_f64 {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(|_| {
            serde::de::Error::custom(format!(
                "expected a non-negative number of seconds, got {secs}"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_from_empty_and_unknown_keys_fail() {
        let c: RefBotConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, RefBotConfig::default());
        let c: RefBotConfig =
            serde_json::from_str(r#"{"hang_duration": 2.5, "error_rate": 0.1}"#).unwrap();
        assert_eq!(c.hang_duration, Duration::from_millis(2500));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["hang_duration"], 2.5);
        let err = serde_json::from_str::<RefBotConfig>(r#"{"eror_rate": 0.1}"#).unwrap_err();
        assert!(err.to_string().contains("eror_rate"), "{err}");
        assert!(serde_json::from_str::<RefBotConfig>(r#"{"hang_duration": -1}"#).is_err());
    }

    #[test]
    fn out_of_range_knobs_are_named() {
        let check = |c: RefBotConfig, key: &str| {
            let err = c.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        };
        check(
            RefBotConfig {
                error_rate: 1.5,
                ..RefBotConfig::default()
            },
            "error_rate",
        );
        check(
            RefBotConfig {
                hang_rate: f64::NAN,
                ..RefBotConfig::default()
            },
            "hang_rate",
        );
        check(
            RefBotConfig {
                wrong_rate: -0.1,
                ..RefBotConfig::default()
            },
            "wrong_rate",
        );
        check(
            RefBotConfig {
                latency_factor: 0.0,
                ..RefBotConfig::default()
            },
            "latency_factor",
        );
        check(
            RefBotConfig {
                latency_scale: f64::INFINITY,
                ..RefBotConfig::default()
            },
            "latency_scale",
        );
        assert!(RefBotConfig::default().validate().is_ok());
    }
}
