//! Robustness verdicts: which hostile input broke which agent, and how.

use std::collections::BTreeMap;

use perf_core::{CheckResult, GroupStats, Outcome, RunResult, Sample};
use serde::{Deserialize, Serialize};

use crate::edge::EdgeClass;

/// A class passes when at least this share of its queries (hostile ones and their health
/// probes) was handled gracefully: all of them, by default.
pub const DEFAULT_ROBUSTNESS_THRESHOLD: f64 = 1.0;

/// The [`CheckResult::group`] of robustness checks.
pub const ROBUSTNESS_CHECK_GROUP: &str = "robustness";

/// Longest answer excerpt kept in a failure, in characters.
const EXCERPT_CHARS: usize = 200;

/// How many queries of a group were handled gracefully, and how the rest failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RobustnessStats {
    /// Queries.
    pub queries: u64,
    /// Answered in time, with every expectation met.
    pub graceful: u64,
    /// `graceful / queries` (1.0 when there were none).
    pub rate: f64,
    /// Failed queries per outcome label (`failed_expectation`, `timeout`, `error:bot`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_modes: BTreeMap<String, u64>,
}

impl RobustnessStats {
    fn from_group(g: &GroupStats) -> Self {
        let mut s = Self::default();
        s.add(g);
        s
    }

    fn add(&mut self, g: &GroupStats) {
        self.queries += g.count;
        self.graceful += g.successes;
        for (label, n) in &g.outcomes {
            if label != "ok" {
                *self.failure_modes.entry(label.clone()).or_default() += n;
            }
        }
        self.rate = if self.queries == 0 {
            1.0
        } else {
            self.graceful as f64 / self.queries as f64
        };
    }
}

/// Robustness of one edge-case class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRobustness {
    /// What the class sends.
    pub description: String,
    /// The hostile queries: answered gracefully?
    pub hostile: RobustnessStats,
    /// The health probes sent after them: was the bot still healthy?
    pub health: RobustnessStats,
    /// Share of hostile queries and probes together that went well.
    pub rate: f64,
    /// `rate >= threshold`.
    pub passed: bool,
    /// Expectations that failed, per name, counted over the kept failure examples.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failed_expectations: BTreeMap<String, u64>,
}

/// One query that was not handled gracefully.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessFailure {
    /// The edge-case class.
    pub class: String,
    /// `true` when this is the health probe after a hostile query: the bot was not healthy
    /// afterwards.
    pub health_probe: bool,
    /// The query.
    pub query_id: String,
    /// The agent the query was meant for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_agent: Option<String>,
    /// The agent that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Outcome label.
    pub outcome: String,
    /// One line: what went wrong.
    pub how: String,
    /// The start of the answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_excerpt: Option<String>,
}

/// Robustness per edge-case class and per agent, with the failing examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessReport {
    /// The pass threshold for a class's rate.
    pub threshold: f64,
    /// All edge-case queries and probes.
    pub overall: RobustnessStats,
    /// Per class (snake_case name), in name order.
    pub classes: BTreeMap<String, ClassRobustness>,
    /// Per agent that handled edge-case queries (hostile and probes). Empty when the run
    /// result also holds other scenarios' samples (see `agents_note`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, RobustnessStats>,
    /// Why per-agent figures are missing, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents_note: Option<String>,
    /// Failing examples (the run result keeps a few per outcome and category).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<RobustnessFailure>,
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(EXCERPT_CHARS).collect();
    if s.chars().nth(EXCERPT_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn how(s: &Sample, probe: bool) -> String {
    let what = match s.outcome {
        Outcome::FailedExpectation => {
            let details: Vec<&str> = s
                .failed_expectations
                .iter()
                .map(|f| f.detail.as_str())
                .collect();
            if details.is_empty() {
                "an expectation failed".to_owned()
            } else {
                details.join("; ")
            }
        }
        Outcome::Timeout => "no answer within the timeout".to_owned(),
        Outcome::Error(kind) => match &s.error {
            Some(e) => format!("error ({kind}): {}", excerpt(e)),
            None => format!("error ({kind})"),
        },
        Outcome::Dropped => "never sent (dropped)".to_owned(),
        Outcome::Ok => "ok".to_owned(),
    };
    if probe {
        let hostile = s.query_id.strip_suffix("-health").unwrap_or(&s.query_id);
        format!("unhealthy after {hostile}: {what}")
    } else {
        what
    }
}

/// Computes robustness from a run result: per edge-case class (hostile queries and the
/// health probes after them), per agent, and the failing examples. `threshold` is the
/// share of a class's queries that must go well for it to pass (see
/// [`DEFAULT_ROBUSTNESS_THRESHOLD`]).
///
/// Per-agent figures come from `result.per_agent`, so they are exact only for a result
/// that holds edge-case samples alone (the runner's result for the edge-case scenario);
/// for a result that mixes in other scenarios they are left out and `agents_note` says so.
pub fn robustness_report(result: &RunResult, threshold: f64) -> RobustnessReport {
    let mut overall = RobustnessStats {
        rate: 1.0,
        ..RobustnessStats::default()
    };
    let mut classes: BTreeMap<String, ClassRobustness> = BTreeMap::new();
    let mut edge_count = 0u64;
    for (category, g) in &result.per_category {
        let Some((class, probe)) = EdgeClass::from_category(category) else {
            continue;
        };
        edge_count += g.count;
        overall.add(g);
        let entry = classes
            .entry(class.as_str().to_owned())
            .or_insert_with(|| ClassRobustness {
                description: class.description().to_owned(),
                hostile: RobustnessStats {
                    rate: 1.0,
                    ..RobustnessStats::default()
                },
                health: RobustnessStats {
                    rate: 1.0,
                    ..RobustnessStats::default()
                },
                rate: 1.0,
                passed: true,
                failed_expectations: BTreeMap::new(),
            });
        if probe {
            entry.health = RobustnessStats::from_group(g);
        } else {
            entry.hostile = RobustnessStats::from_group(g);
        }
    }
    for c in classes.values_mut() {
        let n = c.hostile.queries + c.health.queries;
        c.rate = if n == 0 {
            1.0
        } else {
            (c.hostile.graceful + c.health.graceful) as f64 / n as f64
        };
        c.passed = c.rate >= threshold;
    }

    let mut failures = Vec::new();
    for s in &result.failure_examples {
        let Some((class, probe)) = EdgeClass::from_category(&s.category) else {
            continue;
        };
        if let Some(c) = classes.get_mut(class.as_str()) {
            for f in &s.failed_expectations {
                *c.failed_expectations
                    .entry(f.expectation.clone())
                    .or_default() += 1;
            }
        }
        failures.push(RobustnessFailure {
            class: class.as_str().to_owned(),
            health_probe: probe,
            query_id: s.query_id.clone(),
            expected_agent: s.expected_agent.clone(),
            agent: s.agent.clone(),
            outcome: s.outcome.label(),
            how: how(s, probe),
            answer_excerpt: s.answer_excerpt.as_deref().map(excerpt),
        });
    }

    let edge_only = edge_count > 0 && edge_count == result.overall.count;
    let (agents, agents_note) = if edge_only {
        (
            result
                .per_agent
                .iter()
                .map(|(a, g)| (a.clone(), RobustnessStats::from_group(g)))
                .collect(),
            None,
        )
    } else if edge_count == 0 {
        (
            BTreeMap::new(),
            Some("the run result holds no edge-case queries".to_owned()),
        )
    } else {
        (
            BTreeMap::new(),
            Some(
                "per-agent robustness needs the edge-case scenario's own run result; this one \
                 also holds other scenarios (the failing examples still name their agents)"
                    .to_owned(),
            ),
        )
    };

    RobustnessReport {
        threshold,
        overall,
        classes,
        agents,
        agents_note,
        failures,
    }
}

impl RobustnessReport {
    /// One check per class, group `robustness`: passed when the class's rate reaches the
    /// threshold. The reason names the failing queries, their agents and what went wrong.
    pub fn checks(&self) -> Vec<CheckResult> {
        self.classes
            .iter()
            .map(|(name, c)| {
                let total = c.hostile.queries + c.health.queries;
                let good = c.hostile.graceful + c.health.graceful;
                let mut reason = format!(
                    "{good}/{total} graceful ({:.1}%, threshold {:.1}%): {}/{} hostile queries handled, \
                     {}/{} health probes afterwards answered",
                    c.rate * 100.0,
                    self.threshold * 100.0,
                    c.hostile.graceful,
                    c.hostile.queries,
                    c.health.graceful,
                    c.health.queries,
                );
                let examples: Vec<String> = self
                    .failures
                    .iter()
                    .filter(|f| &f.class == name)
                    .take(3)
                    .map(|f| {
                        let agent = f
                            .agent
                            .as_deref()
                            .or(f.expected_agent.as_deref())
                            .unwrap_or("no agent");
                        format!("{} ({agent}): {}", f.query_id, f.how)
                    })
                    .collect();
                if !examples.is_empty() {
                    reason.push_str("; e.g. ");
                    reason.push_str(&examples.join(" | "));
                }
                CheckResult {
                    group: ROBUSTNESS_CHECK_GROUP.to_owned(),
                    name: name.clone(),
                    passed: c.passed,
                    reason,
                }
            })
            .collect()
    }

    /// Whether every class passed.
    pub fn passed(&self) -> bool {
        self.classes.values().all(|c| c.passed)
    }
}
