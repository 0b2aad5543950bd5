//! Browser tests of perf-report: a real headless Chromium opens `report.html` and
//! `junit.xml`.
//!
//! Built only with the `browser-tests` feature, so the README's `cargo test --workspace`
//! passes on a machine with nothing but Rust. `.ci/run` installs Chromium and runs
//! `cargo test -p perf-report --features browser-tests --test browser`; there, and
//! wherever the feature is on, a missing Chromium fails the test rather than skipping it.

#[path = "../integration/fixture.rs"]
#[allow(dead_code)]
mod fixture;

mod checks;
