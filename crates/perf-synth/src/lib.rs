//! perf-synth
