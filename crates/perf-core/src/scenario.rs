use serde::{Deserialize, Serialize};

use crate::{ContentProfile, LoadProfile, Query};

/// How hard a scenario pushes the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StressLevel {
    /// Ordinary traffic.
    Low,
    /// Noticeable load.
    Medium,
    /// Heavy load.
    High,
    /// Beyond what the target is expected to sustain.
    Extreme,
}

/// The descriptive part of a scenario, as shown in reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Stable name, used as a key in results and baselines.
    pub name: String,
    /// One sentence on what it tests.
    pub description: String,
    /// Labels for selection.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What it expects to be hard for the target (`high_concurrency`, `memory_pressure`, ...).
    #[serde(default)]
    pub expected_challenges: Vec<String>,
    /// How hard it pushes.
    pub stress_level: StressLevel,
}

/// A source of queries with a load profile: a built-in synthetic scenario, a scenario
/// file, or a contributor's crate.
///
/// Implementations must be deterministic: the same profile and seed give the same
/// queries, so runs are comparable.
pub trait Scenario: Send + Sync + std::fmt::Debug {
    /// Name, description, tags, expected challenges and stress level.
    fn info(&self) -> ScenarioInfo;

    /// The queries, built from the database's content and `seed`. Each carries the
    /// expectations a graceful answer must meet.
    fn queries(&self, content: &ContentProfile, seed: u64) -> Vec<Query>;

    /// How the queries are sent.
    fn load_profile(&self) -> LoadProfile;
}
