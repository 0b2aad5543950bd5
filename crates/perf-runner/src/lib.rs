//! The load engine of the chat-bot performance suite, and its resource monitor.
//!
//! A [`Runner`] sends a [`Plan`]'s queries to a [`perf_core::BotTarget`] and folds every
//! result into a [`perf_core::record::RunResult`] as it arrives, so memory does not grow with the
//! number of queries. It gets right what load tools commonly get wrong:
//!
//! - **Coordinated omission.** Every query has an intended start time (the pacing
//!   schedule of a rate-limited closed loop, or the arrival schedule of an open loop), and
//!   latency is measured from it: a bot that builds a queue cannot hide it. Service time
//!   from the actual start, and the start lag, are recorded too.
//! - **A closed loop's rate limit is a ceiling,** as in the original suite: starts are at
//!   least `1 / rate_limit_per_second` apart, and a query's latency counts from when it
//!   could have started (its user free, think time over, the ceiling allowing it), never
//!   from a schedule that ran ahead while every user was busy. The result notes whether
//!   the bot or the ceiling limited throughput. Open loops keep latency from the intended
//!   arrival, queue time included.
//! - **Drops and late starts are counted,** never hidden: open-loop arrivals beyond
//!   `max_in_flight` are recorded as [`perf_core::Outcome::Dropped`] samples.
//! - **Cheap on the CPU it shares with the bot:** closed loops use long-lived workers that
//!   claim the next query from an atomic counter and aggregate in batches, without a task
//!   or a `Sample` allocation per answered query.
//!
//! Each query has a timeout, optional retries with backoff (the first attempt's outcome
//! is kept), and its expectations are checked ([`perf_core::check_expectations`]). A target
//! that panics inside `execute` yields an [`perf_core::ErrorKind::Panic`] sample and the
//! run goes on. A [`tokio_util::sync::CancellationToken`] stops scheduling, gives queries
//! in flight a grace period and returns the partial result marked interrupted.
//!
//! The [`ResourceMonitor`] samples system CPU, memory, disk and network, the target's
//! process (and its children) and the harness itself, refreshing only what it reads. A run
//! asks the target for its process id at every reading, so a target whose process
//! restarts is followed to the new one.
//!
//! The library never prints: progress is reported as [`RunEvent`]s on a channel.
//!
//! Depended on by `perf-suite` (the phased pipeline) and by harness authors who drive their
//! own bot; its API follows `perf-core`'s types and changes additively.
//!
//! # Example: five users against a bot in process
//!
//! ```
//! use std::sync::Arc;
//! use perf_core::{async_trait, BotResponse, BotTarget, LoadProfile, Query, TargetError, TargetInfo};
//! use perf_core::record::RunResult;
//! use perf_runner::{Plan, Runner, RunnerConfig};
//!
//! struct SlowBot;
//!
//! #[async_trait]
//! impl BotTarget for SlowBot {
//!     async fn execute(&self, _query: &Query) -> Result<BotResponse, TargetError> {
//!         tokio::time::sleep(std::time::Duration::from_millis(100)).await;
//!         Ok(BotResponse::new("ok", "semantic_search"))
//!     }
//!
//!     fn redactor(&self) -> perf_core::Redactor {
//!         perf_core::Redactor::default()
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap().block_on(async {
//! let queries: Vec<Query> = (0..50).map(|i| Query::new(format!("q{i}"), "hi", "search")).collect();
//! // The original suite's parallel execution: 5 users, at most 10 starts a second.
//! let plan = Plan::new(queries, LoadProfile::closed(5, Some(10.0)));
//! let runner = Runner::new(Arc::new(SlowBot), RunnerConfig::default());
//! let mut result = RunResult::new("run-1", "2026-01-01T00:00:00Z", TargetInfo::default());
//! runner.run(&plan, &mut result).await.unwrap();
//! assert_eq!(result.overall.successes, 50);
//! // Latency is the bot's answer time: the ceiling never makes a query wait for a user.
//! assert_eq!(result.overall.latency.percentile_micros(95.0) / 1_000, 100);
//! # });
//! ```

mod config;
mod error;
mod exec;
mod monitor;
mod record;
mod runner;
mod schedule;
mod shard;

pub use config::{MonitorConfig, Plan, RetryPolicy, RunnerConfig};
pub use error::RunnerError;
pub use monitor::ResourceMonitor;
/// The runner's events live in `perf-core`, so observers need not depend on the runner.
pub use perf_core::event::{RunEvent, SampleEvent};
pub use runner::{PlanStats, Runner};
pub use schedule::{ArrivalSchedule, ScheduledArrival};
pub use shard::{shard_arrivals, shard_chains, shard_closed, shard_max_in_flight, ClosedShare};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    /// Fails to compile if a public type stops being `Send + Sync`.
    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Runner>();
        assert_send_sync::<RunnerConfig>();
        assert_send_sync::<Plan>();
        assert_send_sync::<RunEvent>();
        assert_send_sync::<RunnerError>();
        assert_send_sync::<PlanStats>();
        assert_send_sync::<ResourceMonitor>();
        assert_send_sync::<ArrivalSchedule>();
    }
}
