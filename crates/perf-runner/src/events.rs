use std::sync::Arc;

use perf_core::record::ResourceSample;
use perf_core::Outcome;

/// Progress of a run, sent on the channel given to [`crate::Runner::with_events`].
///
/// The runner never prints: binaries draw progress bars from these events. Sending never
/// blocks and a closed receiver is ignored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// A plan started; `planned` is how many queries it will send when that is known.
    Started {
        /// Queries (arrivals, for an open loop) the plan will send if it runs to the end.
        planned: Option<u64>,
    },
    /// One query finished or was dropped (only when `RunnerConfig::sample_events` is on).
    Sample(SampleEvent),
    /// The plan moved to a new phase (a load stage, the grace period after a cancellation).
    Phase(String),
    /// A resource monitor reading.
    Resource(ResourceSample),
    /// The plan ended.
    Finished {
        /// `true` when it was cancelled before the end.
        interrupted: bool,
    },
}

/// The per-query progress event: small, and cheap to send: the agent and scenario names
/// are shared (`Arc`), interned per worker, so sending allocates nothing in the common case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleEvent {
    /// Final outcome.
    pub outcome: Outcome,
    /// Attempts made (0 when dropped).
    pub attempts: u32,
    /// Microseconds from the run's start to the intended start.
    pub scheduled_at_us: u64,
    /// Latency from the intended start, microseconds.
    pub latency_us: u64,
    /// Time from the actual start, microseconds.
    pub service_us: u64,
    /// The agent that answered (the response's primary agent), when there was an answer
    /// naming one. The bot chooses this string: treat it as untrusted.
    pub agent: Option<Arc<str>>,
    /// The query's scenario.
    pub scenario: Option<Arc<str>>,
    /// Time to first token of a streamed answer, microseconds.
    pub ttft_us: Option<u64>,
}
