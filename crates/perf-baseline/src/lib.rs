//! perf-baseline
