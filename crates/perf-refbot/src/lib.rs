//! perf-refbot
