//! Contracts and metrics for performance-testing chat bots.
//!
//! `perf-core` is the small, stable crate every other crate implements against. It
//! defines what a bot under test is ([`BotTarget`]), what is sent to it ([`Query`]),
//! what comes back ([`BotResponse`], [`TargetError`]), how one query's result is recorded
//! ([`Sample`], [`Outcome`]), how load is shaped ([`LoadProfile`]), how scenarios produce
//! queries ([`Scenario`]) and how results are aggregated ([`LatencyHistogram`],
//! [`RunResult`]).
//!
//! It never starts a runtime, opens a socket, runs SQL or touches the file system: those
//! belong to the crates above it. Every data type is `serde`-serializable so results can be
//! stored, merged and reported by other processes.

mod aggregate;
mod content;
mod error;
mod expect;
mod histogram;
mod load;
mod query;
mod resource;
mod rng;
mod sample;
mod scenario;
mod target;
mod timeline;
mod verdict;

pub use aggregate::{
    GroupStats, GroupSummary, PhaseTiming, RoutingStats, RunResult, RunSummary, ScheduleStats,
    RUN_RESULT_FORMAT_VERSION,
};
pub use content::{ChannelStat, ContentProfile, TermStat, UserStat};
pub use error::{ConfigError, ErrorKind, TargetError};
pub use expect::{check_expectations, Expectation, ExpectationFailure};
pub use histogram::{LatencyHistogram, LatencySummary, MAX_TRACKABLE_MICROS};
pub use load::{Arrival, ClosedLoop, LoadProfile, OpenLoop, Stage};
pub use query::{agents, Query};
pub use resource::{ResourcePeaks, ResourceSample};
pub use rng::SplitMix64;
pub use sample::{Outcome, Sample};
pub use scenario::{Scenario, ScenarioInfo, StressLevel};
pub use target::{BotResponse, BotTarget, TargetInfo, TokenSource};
pub use timeline::{TimeBucket, Timeline, MAX_TIMELINE_BUCKETS};
pub use verdict::{CheckResult, Comparison, MetricVerdict, TrendSeries, Verdict};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    /// Fails to compile if a public type stops being `Send + Sync`.
    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<Query>();
        assert_send_sync::<BotResponse>();
        assert_send_sync::<TargetError>();
        assert_send_sync::<ConfigError>();
        assert_send_sync::<Outcome>();
        assert_send_sync::<Sample>();
        assert_send_sync::<LoadProfile>();
        assert_send_sync::<LatencyHistogram>();
        assert_send_sync::<RunResult>();
        assert_send_sync::<ContentProfile>();
        assert_send_sync::<ResourceSample>();
        assert_send_sync::<Expectation>();
        assert_send_sync::<Box<dyn BotTarget>>();
        assert_send_sync::<Box<dyn Scenario>>();
    }
}
