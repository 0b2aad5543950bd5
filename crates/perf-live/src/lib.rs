//! The live view of a run: a small HTTP server, loopback by default, that serves a page
//! updated by server-sent events (`/`, `/stream`), Prometheus metrics (`/metrics`) and
//! the same updates as JSON lines (`/events`) while the suite runs.
//!
//! The `orchestrator` and `ci-gate` binaries depend on it for `--live`; nothing else does,
//! and its API may change with them. It reads only the suite's existing event stream
//! ([`perf_core::event::SuiteEvent`]): folding an event is a few counter updates, and everything a
//! client sees is computed once per interval into a snapshot, so clients never slow the
//! measurement. Label values the bot chooses (agent names) are capped at
//! [`MAX_LABEL_VALUES`] distinct values and escaped; the page builds its DOM with
//! `textContent` under a Content-Security-Policy that allows only its own inline script.
//! The metric names are documented in `docs/live.md`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), perf_live::LiveError> {
//! use perf_live::{LiveFinal, LiveOptions, LiveServer, Verdict};
//!
//! let addr = "127.0.0.1:0".parse().expect("an address");
//! let (live, events) = LiveServer::bind(addr, LiveOptions::default()).await?;
//! // Give `events` to `perf_suite::run_suite(&config, Some(events), cancel)`.
//! events
//!     .send(perf_suite::SuiteEvent::RunStarted { run_id: "demo".to_owned() })
//!     .ok();
//! live.finish(LiveFinal { verdict: Verdict::Pass, reasons: Vec::new(), reports: None, discord: None });
//! println!("live view at {}", live.url());
//! live.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod error;
mod page;
mod server;
mod state;

pub use error::LiveError;
pub use page::content_security_policy;
pub use server::{LiveHandle, LiveOptions, LiveServer};
pub use state::metrics::{escape_label, BUCKETS_S, CONTENT_TYPE as METRICS_CONTENT_TYPE};
pub use state::{
    GroupLatency, LatencyPoint, LiveFinal, LiveSnapshot, LiveState, PhaseDone, PhaseNow, Published,
    Verdict, MAX_LABEL_VALUES, NO_AGENT, OTHER, SNAPSHOT_FORMAT_VERSION,
};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<super::LiveHandle>();
        assert_send_sync::<super::LiveState>();
        assert_send_sync::<super::Published>();
        assert_send_sync::<super::LiveError>();
    }
}
