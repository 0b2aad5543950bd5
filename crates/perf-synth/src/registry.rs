//! The scenario registry the orchestrator draws phase 3 from.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use perf_core::{ConfigError, ContentProfile, LoadProfile, Query, Scenario, ScenarioInfo};
use serde::{Deserialize, Serialize};

use crate::edge::EdgeCaseScenario;
use crate::file::{scenario_files_in, ScenarioFile};
use crate::stress::{load_scenarios, queries_needed, stress_scenarios, ScenarioKind};
use crate::SynthError;

/// Scale applied to stress and load durations when the user gives none: 4% of full
/// length, so the nine built-in stress and load scenarios (430 s at full length) take
/// about 17 s of schedule and a default run with every phase on stays under a minute.
pub const DEFAULT_SCALE: f64 = 0.04;

/// The remark a summary shows when stress and load scenarios ran at [`DEFAULT_SCALE`].
pub const DEFAULT_SCALE_NOTE: &str = "stress and load scenarios ran at scale 0.04 (4% of their \
full duration: 430 s became about 17 s); run with --scale 1 for full-length stress and load tests";

/// The remark for a run at `scale`: `None` at full length (1.0).
pub fn scale_note(scale: f64) -> Option<String> {
    if (scale - 1.0).abs() < f64::EPSILON {
        None
    } else if (scale - DEFAULT_SCALE).abs() < f64::EPSILON {
        Some(DEFAULT_SCALE_NOTE.to_owned())
    } else {
        Some(format!(
            "stress and load scenarios ran at scale {scale} ({:.0}% of their full duration); \
             run with --scale 1 for full-length stress and load tests",
            scale * 100.0
        ))
    }
}

/// Checks a scale factor: finite and in `(0, 10]`. The error names the key `scale`.
pub fn validate_scale(scale: f64) -> Result<(), ConfigError> {
    if scale.is_finite() && scale > 0.0 && scale <= 10.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            "scale",
            format!("{scale} is not a scale factor; use a number above 0 and at most 10 (1 = full length)"),
        ))
    }
}

/// The original suite's `synthetic_testing` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyntheticFlags {
    /// Phase 3 at all.
    pub enabled: bool,
    /// Edge-case scenarios.
    pub edge_cases: bool,
    /// Stress scenarios.
    pub stress_scenarios: bool,
    /// Load tests.
    pub load_testing: bool,
}

impl Default for SyntheticFlags {
    fn default() -> Self {
        Self {
            enabled: true,
            edge_cases: true,
            stress_scenarios: true,
            load_testing: true,
        }
    }
}

impl SyntheticFlags {
    /// Whether scenarios of `kind` run under these flags. Custom scenarios run whenever
    /// synthetic testing is enabled.
    pub fn includes(&self, kind: ScenarioKind) -> bool {
        self.enabled
            && match kind {
                ScenarioKind::EdgeCases => self.edge_cases,
                ScenarioKind::Stress => self.stress_scenarios,
                ScenarioKind::Load => self.load_testing,
                ScenarioKind::Custom => true,
            }
    }
}

/// One scenario ready to run: what the runner needs (queries and load profile, already
/// scaled) and what the report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioPlan {
    /// Name, description, tags, expected challenges, stress level.
    pub info: ScenarioInfo,
    /// The kind, for grouping in reports.
    pub kind: ScenarioKind,
    /// Where it came from: `builtin`, `code` or the scenario file's path.
    pub source: String,
    /// The queries, in order; for timed profiles as many as the scaled schedule can send.
    pub queries: Vec<Query>,
    /// The load profile, scaled.
    pub load: LoadProfile,
    /// The scale applied to the durations (1.0 when the kind is not scaled).
    pub scale: f64,
}

#[derive(Debug, Clone)]
struct Entry {
    kind: ScenarioKind,
    source: String,
    scenario: Arc<dyn Scenario>,
}

/// The scenarios a run can draw from: the built-ins, scenario files and scenarios from
/// code, looked up by name and selected by the `synthetic_testing` flags.
#[derive(Debug, Clone)]
pub struct ScenarioRegistry {
    entries: Vec<Entry>,
}

impl Default for ScenarioRegistry {
    /// The built-ins.
    fn default() -> Self {
        Self::with_builtins()
    }
}

impl ScenarioRegistry {
    /// A registry with no scenarios.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The built-in scenarios: edge cases, five stress scenarios, four load tests.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        r.push(
            ScenarioKind::EdgeCases,
            "builtin",
            Arc::new(EdgeCaseScenario::new()),
        );
        for s in stress_scenarios().into_iter().chain(load_scenarios()) {
            r.push(s.kind(), "builtin", Arc::new(s));
        }
        r
    }

    fn push(&mut self, kind: ScenarioKind, source: &str, scenario: Arc<dyn Scenario>) {
        self.entries.push(Entry {
            kind,
            source: source.to_owned(),
            scenario,
        });
    }

    fn add_entry(
        &mut self,
        kind: ScenarioKind,
        source: String,
        scenario: Arc<dyn Scenario>,
    ) -> Result<(), SynthError> {
        let name = scenario.info().name;
        if name.trim().is_empty() {
            return Err(SynthError::Scenario {
                source_name: source,
                reason: "the scenario has an empty name".to_owned(),
            });
        }
        if let Some(existing) = self.entries.iter().find(|e| e.scenario.info().name == name) {
            return Err(SynthError::Scenario {
                source_name: source,
                reason: format!(
                    "a scenario named `{name}` already exists (from {}); scenario names must be unique",
                    existing.source
                ),
            });
        }
        self.push(kind, &source, scenario);
        Ok(())
    }

    /// Adds a scenario from code (a contributor's crate). Fails when the name is taken.
    pub fn add(
        &mut self,
        kind: ScenarioKind,
        scenario: impl Scenario + 'static,
    ) -> Result<(), SynthError> {
        self.add_entry(kind, "code".to_owned(), Arc::new(scenario))
    }

    /// Replaces the built-in edge-case scenario, for example with one that carries the
    /// bot's secret canaries ([`EdgeCaseScenario::with_canaries`]).
    pub fn set_edge_cases(&mut self, scenario: EdgeCaseScenario) {
        let name = scenario.info().name;
        self.entries.retain(|e| e.scenario.info().name != name);
        self.entries.insert(
            0,
            Entry {
                kind: ScenarioKind::EdgeCases,
                source: "builtin".to_owned(),
                scenario: Arc::new(scenario),
            },
        );
    }

    /// Loads one scenario file and adds it; returns its name.
    pub fn load_file(&mut self, path: &Path) -> Result<String, SynthError> {
        let file = ScenarioFile::load(path)?;
        let name = file.name().to_owned();
        let kind = file.kind();
        self.add_entry(kind, path.display().to_string(), Arc::new(file))?;
        Ok(name)
    }

    /// Loads scenario files from each path: a file, or every `*.json` file in a directory
    /// (sorted, not recursive). Returns the names added. Stops at the first bad file; the
    /// error names it.
    pub fn load_paths(&mut self, paths: &[PathBuf]) -> Result<Vec<String>, SynthError> {
        let mut names = Vec::new();
        for p in paths {
            if p.is_dir() {
                for f in scenario_files_in(p)? {
                    names.push(self.load_file(&f)?);
                }
            } else {
                names.push(self.load_file(p)?);
            }
        }
        Ok(names)
    }

    /// The scenario with this name.
    pub fn get(&self, name: &str) -> Option<&dyn Scenario> {
        self.entries
            .iter()
            .find(|e| e.scenario.info().name == name)
            .map(|e| e.scenario.as_ref())
    }

    /// The kind of the scenario with this name.
    pub fn kind_of(&self, name: &str) -> Option<ScenarioKind> {
        self.entries
            .iter()
            .find(|e| e.scenario.info().name == name)
            .map(|e| e.kind)
    }

    /// All names, in registry order.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| e.scenario.info().name)
            .collect()
    }

    /// Number of scenarios.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The scenarios the flags select, with their kinds, in registry order.
    pub fn select(&self, flags: &SyntheticFlags) -> Vec<(ScenarioKind, &dyn Scenario)> {
        self.entries
            .iter()
            .filter(|e| flags.includes(e.kind))
            .map(|e| (e.kind, e.scenario.as_ref()))
            .collect()
    }

    /// Builds the selected scenarios' queries from `content` and `seed` and their load
    /// profiles, with stress and load durations multiplied by `scale` (and their query
    /// lists cut to what the scaled schedule can send). Same inputs, same plans.
    pub fn plans(
        &self,
        flags: &SyntheticFlags,
        content: &ContentProfile,
        seed: u64,
        scale: f64,
    ) -> Result<Vec<ScenarioPlan>, SynthError> {
        validate_scale(scale)?;
        let mut out = Vec::new();
        for e in self.entries.iter().filter(|e| flags.includes(e.kind)) {
            let info = e.scenario.info();
            let applied = if e.kind.is_scaled() { scale } else { 1.0 };
            let load = e.scenario.load_profile().scaled(applied);
            load.validate(&format!("scenario `{}` load", info.name))?;
            let mut queries = e.scenario.queries(content, seed);
            if e.kind.is_scaled() {
                if let Some(n) = queries_needed(&load) {
                    queries.truncate(n.max(1));
                }
            }
            out.push(ScenarioPlan {
                info,
                kind: e.kind,
                source: e.source.clone(),
                queries,
                load,
                scale: applied,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EDGE_SCENARIO;

    #[test]
    fn flags_select_by_kind() {
        let r = ScenarioRegistry::with_builtins();
        assert_eq!(r.len(), 10);
        let all = r.select(&SyntheticFlags::default());
        assert_eq!(all.len(), 10);
        let only_edge = SyntheticFlags {
            stress_scenarios: false,
            load_testing: false,
            ..SyntheticFlags::default()
        };
        let names: Vec<String> = r
            .select(&only_edge)
            .iter()
            .map(|(_, s)| s.info().name)
            .collect();
        assert_eq!(names, vec![EDGE_SCENARIO.to_owned()]);
        let off = SyntheticFlags {
            enabled: false,
            ..SyntheticFlags::default()
        };
        assert!(r.select(&off).is_empty());
        let load_only = SyntheticFlags {
            edge_cases: false,
            stress_scenarios: false,
            ..SyntheticFlags::default()
        };
        assert!(r
            .select(&load_only)
            .iter()
            .all(|(k, s)| *k == ScenarioKind::Load && s.info().name.starts_with("load_")));
        assert_eq!(r.kind_of("load_spike"), Some(ScenarioKind::Load));
        assert!(r.get("stress_high_frequency").is_some());
        assert!(r.get("nope").is_none());
    }

    #[test]
    fn duplicate_names_are_refused() {
        let mut r = ScenarioRegistry::with_builtins();
        let err = r
            .add(ScenarioKind::Custom, EdgeCaseScenario::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
    }

    #[test]
    fn flags_parse_from_the_original_config_section() {
        let f: SyntheticFlags =
            serde_json::from_str(r#"{"enabled": true, "load_testing": false}"#).unwrap();
        assert!(f.edge_cases && f.stress_scenarios && !f.load_testing);
        let err = serde_json::from_str::<SyntheticFlags>(r#"{"edge_case": true}"#).unwrap_err();
        assert!(err.to_string().contains("edge_case"), "{err}");
    }

    #[test]
    fn scale_notes_and_validation() {
        assert_eq!(scale_note(1.0), None);
        assert_eq!(
            scale_note(DEFAULT_SCALE).as_deref(),
            Some(DEFAULT_SCALE_NOTE)
        );
        assert!(scale_note(0.5).unwrap().contains("50%"));
        assert!(validate_scale(0.0).is_err());
        assert!(validate_scale(f64::NAN).is_err());
        assert!(validate_scale(1.0).is_ok());
    }
}
