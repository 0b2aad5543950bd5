use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use perf_core::record::RunResult;
use perf_core::{BotResponse, BotTarget, ErrorKind, Query, TargetError, TargetInfo};
use perf_runner::{RunEvent, SampleEvent};
use tokio_util::sync::CancellationToken;

/// A cancellation token that cancels itself `after` from now (on tokio's clock, so it
/// follows a paused one), and the task that does it.
pub(crate) fn cancelled_after(after: Duration) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let token = CancellationToken::new();
    let cancel = token.clone();
    let task = tokio::spawn(async move {
        tokio::time::sleep(after).await;
        cancel.cancel();
    });
    (token, task)
}

/// What the scripted target does for one call.
pub(crate) enum Reply {
    Answer(&'static str, String),
    Error(ErrorKind),
    Panic,
}

pub(crate) struct Step {
    pub(crate) delay: Duration,
    pub(crate) reply: Reply,
}

impl Step {
    pub(crate) fn ok(delay_ms: u64) -> Self {
        Self {
            delay: Duration::from_millis(delay_ms),
            reply: Reply::Answer("search", "the answer".to_owned()),
        }
    }
}

type Script = dyn Fn(u64, &Query) -> Step + Send + Sync;

/// A target driven by a script of (call number, query) -> step, using tokio's clock.
pub(crate) struct Scripted {
    script: Box<Script>,
    pub(crate) calls: AtomicU64,
    in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
    pub(crate) pid: Option<u32>,
}

impl Scripted {
    pub(crate) fn new(script: impl Fn(u64, &Query) -> Step + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            script: Box::new(script),
            calls: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            pid: None,
        })
    }

    /// Every call answers after `ms` milliseconds.
    pub(crate) fn fixed(ms: u64) -> Arc<Self> {
        Self::new(move |_, _| Step::ok(ms))
    }
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl BotTarget for Scripted {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let step = (self.script)(n, query);
        if !step.delay.is_zero() {
            tokio::time::sleep(step.delay).await;
        }
        match step.reply {
            Reply::Answer(agent, text) => Ok(BotResponse::new(text, agent)),
            Reply::Error(kind) => Err(TargetError::new(kind, "scripted failure")),
            Reply::Panic => panic!("scripted panic"),
        }
    }

    fn process_id(&self) -> Option<u32> {
        self.pid
    }
}

pub(crate) fn queries(n: usize) -> Vec<Query> {
    (0..n)
        .map(|i| {
            Query::new(format!("q{i}"), format!("question {i}"), "search")
                .with_scenario("test")
                .with_expected_agent("search")
        })
        .collect()
}

pub(crate) fn new_result() -> RunResult {
    RunResult::new("test-run", "2026-01-01T00:00:00Z", TargetInfo::default())
}

/// Collects events sent so far.
pub(crate) fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<RunEvent>) -> Vec<RunEvent> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        out.push(e);
    }
    out
}

pub(crate) fn samples(events: &[RunEvent]) -> Vec<SampleEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Sample(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// `actual` within 0.2 % of `expected` (histogram values carry 3 significant digits).
#[track_caller]
pub(crate) fn assert_near(actual: f64, expected: f64) {
    let ok = if expected == 0.0 {
        actual.abs() < 1e-9
    } else {
        (actual / expected - 1.0).abs() < 0.002
    };
    assert!(ok, "{actual} is not within 0.2% of {expected}");
}
