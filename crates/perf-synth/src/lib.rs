//! Test data for chat-bot performance tests: a deterministic Discord-like message
//! database, content analysis of any message database, and query generation grounded in
//! that content.
//!
//! Everything is seeded: the same seed gives the same database and the same queries, so
//! runs compare.

mod analysis;
mod db;
mod error;
mod generate;
mod queries;
mod words;

pub use analysis::analyze_content;
pub use db::{open_database, open_or_generate, validate_schema, SCHEMA_SQL, SCHEMA_VERSION};
pub use error::SynthError;
pub use generate::{generate_database, FixtureConfig};
pub use queries::{generate_standard_queries, STANDARD_SCENARIO};
