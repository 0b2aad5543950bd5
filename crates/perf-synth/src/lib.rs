//! Test data for chat-bot performance tests: a deterministic Discord-like message
//! database, imports of real servers' DiscordChatExporter exports, content analysis of any
//! message database, query generation grounded in that content, and the synthetic
//! scenarios of phase 3 (edge cases, stress scenarios, load tests, scenario files) with
//! robustness verdicts.
//!
//! Everything is seeded: the same seed gives the same database, the same queries and the
//! same scenarios, so runs compare.

mod analysis;
mod db;
mod edge;
mod error;
mod file;
mod generate;
mod import;
mod queries;
mod questions;
mod read;
mod registry;
mod robustness;
mod stress;
#[doc(hidden)]
pub mod testing;
mod words;

pub use analysis::analyze_content;
pub use db::{open_database, open_or_generate, validate_schema, SCHEMA_SQL, SCHEMA_VERSION};
pub use edge::{
    EdgeCaseScenario, EdgeClass, EdgeRole, EdgeStages, EDGE_CATEGORY_PREFIX, EDGE_CONTROL_CATEGORY,
    EDGE_PAIR_LEN, EDGE_SCENARIO, HEALTH_CONTROL_TAG, HEALTH_PROBE_SUFFIX, HEALTH_PROBE_TAG,
    HOSTILE_TAG,
};
pub use error::SynthError;
pub use file::{
    ScenarioFile, MAX_FILE_QUERIES, MAX_FILE_QUERY_BYTES, SCENARIO_FILE_FORMAT_VERSION,
};
pub use generate::{generate_database, FixtureConfig};
pub use import::{import_discord_exports, ImportStats};
pub use queries::{generate_standard_queries, STANDARD_SCENARIO};
pub use questions::{
    QuestionSet, DEFAULT_QUESTION_CATEGORY, MAX_QUESTIONS, MAX_QUESTIONS_FILE_BYTES,
};
pub use read::{not_a_regular_file, read_text_limited, MAX_SCENARIO_FILE_BYTES};
pub use registry::{
    scale_note, validate_scale, ScenarioPlan, ScenarioRegistry, SyntheticFlags, DEFAULT_SCALE,
    DEFAULT_SCALE_NOTE,
};
pub use robustness::{
    robustness_report, ClassRobustness, RobustnessFailure, RobustnessReport, RobustnessStats,
    AGENT_CHANGED, DEFAULT_ROBUSTNESS_THRESHOLD, HEALTH_PROBE_RULE, ROBUSTNESS_CHECK_GROUP,
};
pub use stress::{load_scenarios, stress_scenarios, LoadScenario, ScenarioKind};
pub use words::COMMON_STOP_WORDS;

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<ScenarioRegistry>();
        assert_send_sync::<ScenarioPlan>();
        assert_send_sync::<EdgeCaseScenario>();
        assert_send_sync::<EdgeStages>();
        assert_send_sync::<ScenarioFile>();
        assert_send_sync::<QuestionSet>();
        assert_send_sync::<RobustnessReport>();
        assert_send_sync::<SynthError>();
        assert_send_sync::<ImportStats>();
    }
}
