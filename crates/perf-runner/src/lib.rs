//! perf-runner
