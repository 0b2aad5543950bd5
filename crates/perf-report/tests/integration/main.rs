//! Integration tests of perf-report: one test binary, one module per concern.

mod files;
mod fixture;
mod safety;
mod sections;
mod snapshots;
mod streaming;
