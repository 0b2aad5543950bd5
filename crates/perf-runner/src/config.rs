use std::path::PathBuf;
use std::time::Duration;

use perf_core::{ConfigError, LoadProfile, Query, Sample};
use tokio::sync::mpsc::UnboundedSender;

/// One batch of work for the runner: the queries and how to apply them.
///
/// Queries are used in order and cycle when the profile wants more than given. A closed
/// loop without a duration sends each query once (or `max_queries`); `max_queries` caps
/// any profile (open-loop arrivals dropped at the in-flight cap count towards it).
#[derive(Debug, Clone)]
pub struct Plan {
    /// The queries, in the order they are sent.
    pub queries: Vec<Query>,
    /// Closed or open loop.
    pub load: LoadProfile,
    /// Stop after this many queries (arrivals, for an open loop).
    pub max_queries: Option<u64>,
    /// Closed loop only: a user takes this many consecutive queries at once and sends them
    /// in order, while other users do the same with the next ones (a hostile query and the
    /// health probe after it stay together). 1, the default, hands out single queries.
    pub chain: usize,
    /// Where to send every query's full [`Sample`] as it is recorded, for callers that
    /// judge queries one by one (the edge-case health probes against their controls).
    /// `None`, the default, keeps the aggregation's fast path, which builds no `Sample` for
    /// answered queries.
    pub sample_sink: Option<UnboundedSender<Sample>>,
}

impl Plan {
    /// A plan without a query cap.
    pub fn new(queries: Vec<Query>, load: LoadProfile) -> Self {
        Self {
            queries,
            load,
            max_queries: None,
            chain: 1,
            sample_sink: None,
        }
    }

    /// The same plan sending each query's [`Sample`] to `tx` (see [`Plan::sample_sink`]).
    /// Every sample is sent before [`crate::Runner::run`] returns, so the receiver can drain
    /// the channel with `try_recv` afterwards.
    pub fn with_sample_sink(mut self, tx: UnboundedSender<Sample>) -> Self {
        self.sample_sink = Some(tx);
        self
    }

    /// The same plan with queries handed out in runs of `chain` (see [`Plan::chain`]).
    pub fn with_chain(mut self, chain: usize) -> Self {
        self.chain = chain;
        self
    }

    /// The same plan capped at `max` queries.
    pub fn with_max_queries(mut self, max: u64) -> Self {
        self.max_queries = Some(max);
        self
    }

    /// Checks the plan; errors name the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.queries.is_empty() {
            return Err(ConfigError::new(
                "queries",
                "the plan has no queries to send",
            ));
        }
        if self.chain == 0 {
            return Err(ConfigError::new(
                "chain",
                "must be at least 1 (1 hands out single queries)",
            ));
        }
        if self.max_queries == Some(0) {
            return Err(ConfigError::new(
                "max_queries",
                "must be at least 1; omit it for no cap",
            ));
        }
        self.load.validate("")
    }

    /// How many queries the plan will send (arrivals, for an open loop) if it runs to the
    /// end; `None` when only the clock decides (a closed loop with a duration and no rate
    /// limit or cap).
    pub fn planned_queries(&self) -> Option<u64> {
        let len = self.queries.len() as u64;
        let by_profile = match &self.load {
            LoadProfile::Closed(c) => match (c.duration, c.rate_limit_per_second) {
                (None, _) => Some(len),
                (Some(d), Some(r)) => Some((d.as_secs_f64() * r).ceil() as u64),
                (Some(_), None) => None,
            },
            LoadProfile::Open(o) => Some(
                o.stages
                    .iter()
                    .map(|s| s.expected_arrivals())
                    .sum::<f64>()
                    .round() as u64,
            ),
        };
        match (by_profile, self.max_queries) {
            (Some(p), Some(m)) => Some(p.min(m)),
            (p, None) => p,
            (None, m) => m,
        }
    }
}

/// Retries of failed queries (errors and timeouts; an answer that fails its expectations
/// is not retried). Attempt `n` (from 1) waits `backoff × 2^(n−1)` before it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 for none.
    pub max_retries: u32,
    /// Wait before the first retry; doubles for each further one.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 0,
            backoff: Duration::from_millis(100),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32
            .checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.backoff.saturating_mul(factor)
    }
}

/// Resource monitor settings: the original suite's `resource_monitoring`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorConfig {
    /// Time between readings (`monitoring_interval`).
    pub interval: Duration,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
        }
    }
}

/// How the runner executes a plan.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Time one attempt may take before it counts as a timeout (default 30 s).
    pub query_timeout: Duration,
    /// Retries of failed attempts (default none).
    pub retry: RetryPolicy,
    /// After a cancellation, how long queries in flight may still finish (default 5 s).
    pub grace_period: Duration,
    /// Where to stream raw samples as JSON lines, one [`perf_core::Sample`] per line. The
    /// file is created (truncated) by a runner's first plan and appended to by later ones.
    pub samples_path: Option<PathBuf>,
    /// Resource monitoring; `None` to switch it off.
    pub monitor: Option<MonitorConfig>,
    /// Send a [`crate::RunEvent::Sample`] per query (default `true`). Each costs a channel
    /// send; switch it off at very high rates and draw progress from the other events.
    pub sample_events: bool,
    /// Seed of the Poisson arrival gaps.
    pub seed: u64,
    /// The slice of every plan this runner sends, for a distributed test (default: the
    /// whole plan). See [`crate::shard_arrivals`] and [`crate::shard_closed`].
    pub shard: perf_core::Shard,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            query_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            grace_period: Duration::from_secs(5),
            samples_path: None,
            monitor: None,
            sample_events: true,
            seed: 0x5eed,
            shard: perf_core::Shard::WHOLE,
        }
    }
}

impl RunnerConfig {
    /// Checks the configuration; errors name the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.query_timeout.is_zero() {
            return Err(ConfigError::new("query_timeout", "must be positive"));
        }
        if let Some(m) = &self.monitor {
            if m.interval.is_zero() {
                return Err(ConfigError::new(
                    "resource_monitoring.monitoring_interval",
                    "must be positive",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_saturates() {
        let r = RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_millis(100),
        };
        assert_eq!(r.delay(1), Duration::from_millis(100));
        assert_eq!(r.delay(3), Duration::from_millis(400));
        assert!(r.delay(200) >= Duration::from_secs(1_000_000));
    }

    #[test]
    fn plan_validation_names_keys() {
        let q = vec![Query::new("q", "hi", "c")];
        let e = Plan::new(Vec::new(), LoadProfile::closed(1, None))
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "queries");
        let e = Plan::new(q.clone(), LoadProfile::closed(1, None))
            .with_max_queries(0)
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "max_queries");
        let e = Plan::new(q.clone(), LoadProfile::closed(0, None))
            .validate()
            .unwrap_err();
        assert_eq!(e.key, "users");
        let p = Plan::new(q, LoadProfile::constant(10.0, Duration::from_secs(3), 5))
            .with_max_queries(20);
        assert_eq!(p.planned_queries(), Some(20));
        let e = RunnerConfig {
            query_timeout: Duration::ZERO,
            ..RunnerConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.key, "query_timeout");
    }
}
