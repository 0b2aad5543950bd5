//! Contracts and metrics for performance-testing chat bots.
//!
//! `perf-core` is the small, stable crate every other crate of the suite implements
//! against, and the one a harness author depends on to plug a bot in: `perf-runner` drives
//! a [`BotTarget`], `perf-targets` implements it for HTTP and child processes, `perf-refbot`
//! for the reference bot, `perf-synth` produces [`Query`]s and [`Scenario`]s, and
//! `perf-baseline` and `perf-report` read [`RunResult`](record::RunResult)s. The contract is
//! at the root; what runs store and reports read is in [`record`]. Its types change rarely and
//! additively (new optional fields, skipped when empty); every stored format carries a
//! `format_version`. It never starts a runtime, opens a socket, runs SQL or touches the
//! file system: those belong to the crates above it.
//!
//! It defines what a bot under test is ([`BotTarget`]), what is sent to it ([`Query`]),
//! what comes back ([`BotResponse`], [`TargetError`]), how one query's result is recorded
//! ([`Sample`], [`Outcome`]), how load is shaped ([`LoadProfile`]), how scenarios produce
//! queries ([`Scenario`]) and how results are aggregated ([`LatencyHistogram`],
//! [`record::RunResult`]). Every data type is `serde`-serializable so results can be stored,
//! merged and reported by other processes.
//!
//! # Example: a bot in process
//!
//! ```
//! use perf_core::{async_trait, BotResponse, BotTarget, Query, TargetError};
//!
//! /// Your bot, called in process.
//! struct EchoBot;
//!
//! #[async_trait]
//! impl BotTarget for EchoBot {
//!     async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
//!         if query.text.is_empty() {
//!             return Err(TargetError::bot("empty query"));
//!         }
//!         Ok(BotResponse::new(format!("you asked: {}", query.text), "semantic_search"))
//!     }
//!
//!     /// The bot was given no credentials, so there is nothing to remove from its answers.
//!     fn redactor(&self) -> perf_core::Redactor {
//!         perf_core::Redactor::default()
//!     }
//! }
//!
//! # block_on(async {
//! let answer = EchoBot.execute(&Query::new("q1", "hello", "search")).await.unwrap();
//! assert_eq!(answer.primary_agent(), Some("semantic_search"));
//! # });
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! Results fold into mergeable histograms, so shards combine exactly:
//!
//! ```
//! use perf_core::record::RunResult;
//! use perf_core::{Outcome, Sample, TargetInfo};
//!
//! let mut a = RunResult::new("run-1", "2026-01-01T00:00:00Z", TargetInfo::default());
//! let mut b = a.clone();
//! a.record(&Sample::new("q1", "standard", "search", Outcome::Ok, 80_000));
//! b.record(&Sample::new("q2", "standard", "search", Outcome::Ok, 120_000));
//! a.merge(&b);
//! assert_eq!(a.overall.count, 2);
//! assert_eq!(a.per_category["search"].latency.count(), 2);
//! ```

mod aggregate;
mod capacity;
mod content;
mod discord;
mod error;
pub mod event;
mod expect;
mod histogram;
mod load;
mod query;
mod redact;
mod resource;
mod rng;
mod sample;
mod scenario;
mod shard;
mod slo;
mod suggest;
mod target;
mod timeline;
mod verdict;

/// Re-exported so a [`BotTarget`] can be implemented without depending on `async-trait`.
pub use async_trait::async_trait;

pub use content::{ChannelStat, ContentProfile, TermStat, UserStat};
pub use error::{ConfigError, ErrorKind, TargetError};
pub use expect::{
    check_expectations, AnswerPattern, Expectation, ExpectationFailure, MAX_PATTERN_BYTES,
};
pub use histogram::{
    with_histogram_budget, HistogramUse, LatencyHistogram, LatencySummary, MAX_TRACKABLE_MICROS,
};
pub use load::{Arrival, ClosedLoop, LoadProfile, OpenLoop, Stage};
pub use query::{agents, Query};
pub use redact::{
    bounded, cut, is_secret_name, Redactor, MAX_AGENT_CHARS, MAX_ERROR_CHARS, MAX_EXCERPT_CHARS,
    MAX_TRACKED_NAMES, MIN_SECRET_CHARS, OTHER, REDACTED,
};
pub use rng::SplitMix64;
pub use sample::{Outcome, Sample};
pub use scenario::{Scenario, ScenarioInfo, StressLevel};
pub use shard::{Shard, MAX_SHARDS};
pub use suggest::{closest_match, edit_distance, line_col};
pub use target::{BotResponse, BotTarget, TargetInfo, TokenSource, Transport};

/// What runs store and reports read: the records, apart from the contract at the root.
///
/// A record is written by one process and read by another (`report.json`, a baseline, the
/// history, a capacity report, a shard's result); each stored format carries its
/// `format_version`. Grouped by what they record; every name is also at `record::`.
pub mod record {
    /// A run's result: counts and histograms per group, phases, resources, the timeline.
    pub mod run {
        pub use crate::aggregate::{
            FoldedNames, GroupStats, GroupSummary, PhaseStatus, PhaseTiming, RoutingStats,
            RunResult, RunSummary, ScheduleStats, RUN_RESULT_FORMAT_VERSION,
        };
        pub use crate::resource::{ResourcePeaks, ResourceSample};
        pub use crate::timeline::{TimeBucket, Timeline, MAX_TIMELINE_BUCKETS};
    }
    /// A capacity search's report, its fits and the forecasts.
    pub mod capacity {
        pub use crate::capacity::{
            usl, AgentProbe, CapacityAnswer, CapacityReport, Estimate, Forecast, Holdout, Knee,
            Limit, ProbeReport, ProbeVerdict, ServiceRate, SlotsFit, TrendForecast, UslFit,
            UslPoint, CAPACITY_FORMAT_VERSION,
        };
    }
    /// Checks, baseline verdicts and trend series.
    pub mod verdict {
        pub use crate::verdict::{
            CheckGroup, CheckResult, CheckStatus, Comparison, MetricVerdict, TrendSeries, Verdict,
            HEALTH_PROBE_RULE,
        };
    }
    /// A shard's part of a distributed test and the merge of the parts.
    pub mod shard {
        pub use crate::shard::{MergeInfo, ShardInfo, ShardSummary, SHARD_FORMAT_VERSION};
    }
    /// What a Discord target measured beside the latency.
    pub mod discord {
        pub use crate::discord::{DiscordSummary, RouteRateLimits};
    }
    /// Service-level objectives and goodput.
    pub mod slo {
        pub use crate::slo::{
            GoodCounts, GoodputFigures, GoodputSummary, GoodputTally, Judged, SloCheck, SloKind,
            Slos,
        };
    }
    pub use capacity::*;
    pub use discord::*;
    pub use run::*;
    pub use shard::*;
    pub use slo::*;
    pub use verdict::*;
}

#[cfg(test)]
mod send_sync_tests {
    use super::record::{ResourceSample, RunResult};
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
