//! What a run tells whoever watches it: the runner's [`RunEvent`]s and the suite's
//! [`SuiteEvent`]s. Plain data, so an observer (a progress bar, the live view) depends on
//! this crate alone, not on the engine or the pipeline that sends them.

use std::sync::Arc;

use crate::record::ResourceSample;
use crate::Outcome;

/// Progress of a run, sent on the channel given to `perf_runner::Runner::with_events`.
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

/// Progress of a suite run, for the binaries to draw.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SuiteEvent {
    /// A phase started or ended.
    Phase(PhaseEvent),
    /// Something the runner reported during execution.
    Runner(RunEvent),
    /// A remark worth showing (a generated database, a reduced scale).
    Note(String),
    /// The run's id, sent once before the first phase; the reports go to
    /// `output_dir/<run_id>/`.
    RunStarted {
        /// The run id.
        run_id: String,
    },
    /// A check's verdict, sent as soon as it is known (robustness after the edge cases,
    /// the baseline in phase 5, the critical paths in phase 6).
    Check(crate::record::CheckResult),
}

/// A phase boundary.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PhaseEvent {
    /// The phase began.
    Started {
        /// Phase number.
        number: u8,
        /// Phase name.
        name: &'static str,
    },
    /// The phase ended (completed, skipped or failed).
    Finished(crate::record::PhaseTiming),
}
