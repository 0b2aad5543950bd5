//! Integration tests of perf-synth: scenarios, scenario files and Discord imports against
//! real SQLite databases and the shipped example and fixture files.

mod files;
mod import;
mod scenarios;
mod support;
