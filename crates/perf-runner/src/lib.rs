//! The load engine of the chat-bot performance suite, and its resource monitor.
//!
//! A [`Runner`] sends a [`Plan`]'s queries to a [`perf_core::BotTarget`] and folds every
//! result into a [`perf_core::RunResult`] as it arrives, so memory does not grow with the
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

mod config;
mod error;
mod events;
mod exec;
mod monitor;
mod record;
mod runner;
mod schedule;

pub use config::{MonitorConfig, Plan, RetryPolicy, RunnerConfig};
pub use error::RunnerError;
pub use events::{RunEvent, SampleEvent};
pub use monitor::ResourceMonitor;
pub use runner::{PlanStats, Runner};
pub use schedule::{ArrivalSchedule, ScheduledArrival};

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
