//! Integration tests of the runner: scheduling, pacing, ramps, drops, timeouts, retries,
//! cancellation and coordinated omission run on tokio's paused clock, so they are exact
//! and independent of the machine's speed; the resource monitor is checked against a real
//! child process.

mod support;

mod closed;
mod errors;
mod lifecycle;
mod monitor;
mod open;
mod shard;
