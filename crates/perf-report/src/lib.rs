//! perf-report
