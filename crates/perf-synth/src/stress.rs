//! Stress and load scenarios: the original suite's high-frequency, memory-intensive,
//! CPU-intensive, mixed and concurrent-user stress tests and its gradual, spike,
//! sustained and burst load tests, as load profiles with content-grounded queries.
//!
//! Durations here are the full-length ones; the registry shortens them with a scale
//! factor (see [`crate::DEFAULT_SCALE`]).

use std::time::Duration;

use perf_core::{
    agents, Arrival, ClosedLoop, ContentProfile, Expectation, LoadProfile, OpenLoop, Query,
    Scenario, ScenarioInfo, SplitMix64, Stage, StressLevel,
};
use serde::{Deserialize, Serialize};

use crate::generate_standard_queries;

/// What a scenario is, for selection by the `synthetic_testing` flags and for scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ScenarioKind {
    /// Hostile and unusual input (`synthetic_testing.edge_cases`).
    EdgeCases,
    /// Stress scenarios (`synthetic_testing.stress_scenarios`); durations are scaled.
    Stress,
    /// Load tests (`synthetic_testing.load_testing`); durations are scaled.
    Load,
    /// A user's scenario (a file or a crate); runs whenever synthetic testing is enabled.
    Custom,
}

impl ScenarioKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::EdgeCases => "edge_cases",
            ScenarioKind::Stress => "stress",
            ScenarioKind::Load => "load",
            ScenarioKind::Custom => "custom",
        }
    }

    /// Whether `--scale` shortens this kind's durations.
    pub fn is_scaled(self) -> bool {
        matches!(self, ScenarioKind::Stress | ScenarioKind::Load)
    }
}

impl std::fmt::Display for ScenarioKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The queries a load scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mix {
    /// Short, cheap queries.
    Simple,
    /// The four critical paths, evenly.
    Standard,
    /// Queries that need much context: whole histories, many terms, long context.
    Memory,
    /// Queries that need much computation: comparisons, rankings, per-hour analytics.
    Cpu,
    /// Standard, memory- and CPU-heavy queries interleaved (70/20/10).
    Mixed,
    /// From simple to complex over the run.
    Gradual,
    /// Memory- and CPU-heavy queries.
    Complex,
    /// Standard queries from many simulated users in many channels.
    Users,
}

/// A built-in stress or load scenario: a load profile and a query mix.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadScenario {
    info: ScenarioInfo,
    kind: ScenarioKind,
    load: LoadProfile,
    mix: Mix,
}

impl LoadScenario {
    /// Stress or load.
    pub fn kind(&self) -> ScenarioKind {
        self.kind
    }
}

/// Most queries generated for one scenario at full scale.
const MAX_QUERIES: usize = 5_000;
/// The fastest answer assumed when sizing closed-loop query lists.
const MIN_ANSWER: Duration = Duration::from_millis(20);

/// Queries a profile can use at most: open loops send their expected arrivals (plus one
/// per stage for rounding); closed loops with a duration at most one query per user per
/// [`MIN_ANSWER`] plus think time. `None` when the profile ends with its queries.
pub(crate) fn queries_needed(load: &LoadProfile) -> Option<usize> {
    match load {
        // Saturating: a scenario file may ask for absurd rates; the list is only cut.
        LoadProfile::Open(o) => Some(o.stages.iter().fold(0usize, |acc, s| {
            acc.saturating_add((s.expected_arrivals().max(0.0).ceil() as usize).saturating_add(1))
        })),
        LoadProfile::Closed(c) => c.duration.map(|d| {
            let per_query = c.think_time.saturating_add(MIN_ANSWER).as_secs_f64();
            let per_user = ((d.as_secs_f64() / per_query).ceil() as usize).saturating_add(1);
            c.users.max(1).saturating_mul(per_user)
        }),
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn info(
    name: &str,
    description: &str,
    tags: &[&str],
    challenges: &[&str],
    stress_level: StressLevel,
) -> ScenarioInfo {
    ScenarioInfo {
        name: name.to_owned(),
        description: description.to_owned(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        expected_challenges: challenges.iter().map(|t| (*t).to_owned()).collect(),
        stress_level,
    }
}

/// The built-in stress scenarios, at full length.
pub fn stress_scenarios() -> Vec<LoadScenario> {
    let k = ScenarioKind::Stress;
    vec![
        LoadScenario {
            info: info(
                "stress_high_frequency",
                "20 queries per second for 60 seconds",
                &["stress"],
                &["high_frequency", "rate_limiting", "queueing"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::constant(20.0, secs(60), 64),
            mix: Mix::Standard,
        },
        LoadScenario {
            info: info(
                "stress_memory_intensive",
                "Queries over whole histories, many terms and long context, 5 per second for 30 seconds",
                &["stress"],
                &["memory_pressure", "large_context"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::constant(5.0, secs(30), 16),
            mix: Mix::Memory,
        },
        LoadScenario {
            info: info(
                "stress_cpu_intensive",
                "Comparisons, rankings and per-hour analytics, 5 per second for 30 seconds",
                &["stress"],
                &["cpu_saturation", "complex_analytics"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::constant(5.0, secs(30), 16),
            mix: Mix::Cpu,
        },
        LoadScenario {
            info: info(
                "stress_mixed_load",
                "Standard, memory- and CPU-heavy queries together, Poisson arrivals at 10 per second for 60 seconds",
                &["stress"],
                &["mixed_workload", "head_of_line_blocking"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::Open(OpenLoop {
                stages: vec![Stage::constant(10.0, secs(60))],
                arrival: Arrival::Poisson,
                max_in_flight: 64,
            }),
            mix: Mix::Mixed,
        },
        LoadScenario {
            info: info(
                "stress_concurrent_users",
                "20 simulated users in different channels, one second of think time, for 60 seconds",
                &["stress"],
                &["high_concurrency", "session_isolation"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::Closed(ClosedLoop {
                users: 20,
                think_time: secs(1),
                rate_limit_per_second: None,
                duration: Some(secs(60)),
            }),
            mix: Mix::Users,
        },
    ]
}

/// The built-in load tests, at full length.
pub fn load_scenarios() -> Vec<LoadScenario> {
    let k = ScenarioKind::Load;
    let burst_stages = (0..3)
        .flat_map(|_| {
            [
                Stage::constant(15.0, secs(3)),
                Stage::constant(0.5, secs(7)),
            ]
        })
        .collect();
    vec![
        LoadScenario {
            info: info(
                "load_gradual",
                "Rate steps from 2 to 20 per second over 60 seconds while queries grow more complex",
                &["load"],
                &["capacity_limit", "degradation_curve"],
                StressLevel::Medium,
            ),
            kind: k,
            load: LoadProfile::step(2.0, 20.0, 5, secs(60), 64),
            mix: Mix::Gradual,
        },
        LoadScenario {
            info: info(
                "load_spike",
                "2 per second with a sudden 8-second burst of simple queries at 30 per second",
                &["load"],
                &["sudden_burst", "recovery"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::spike(2.0, 30.0, secs(40), secs(8), 100),
            mix: Mix::Simple,
        },
        LoadScenario {
            info: info(
                "load_sustained",
                "A continuous moderate load of 5 queries per second for 60 seconds",
                &["load"],
                &["resource_leaks", "stability"],
                StressLevel::Medium,
            ),
            kind: k,
            load: LoadProfile::constant(5.0, secs(60), 32),
            mix: Mix::Standard,
        },
        LoadScenario {
            info: info(
                "load_burst",
                "Complex queries in rapid succession: 3-second bursts at 15 per second, 7 seconds apart",
                &["load"],
                &["burst_absorption", "queueing"],
                StressLevel::High,
            ),
            kind: k,
            load: LoadProfile::Open(OpenLoop {
                stages: burst_stages,
                arrival: Arrival::Constant,
                max_in_flight: 64,
            }),
            mix: Mix::Complex,
        },
    ]
}

impl Scenario for LoadScenario {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn queries(&self, content: &ContentProfile, seed: u64) -> Vec<Query> {
        let n = queries_needed(&self.load)
            .unwrap_or(100)
            .clamp(1, MAX_QUERIES);
        let name = self.info.name.as_str();
        let mut rng = SplitMix64::derive(seed, name);
        let standard = generate_standard_queries(content, n, rng.next_u64());
        let prefix = self.kind.as_str();
        let mut out: Vec<Query> = (0..n)
            .map(|i| {
                let heavy = match self.mix {
                    Mix::Simple | Mix::Standard | Mix::Users => None,
                    Mix::Memory => Some(Heavy::Memory),
                    Mix::Cpu => Some(Heavy::Cpu),
                    Mix::Complex => Some(if rng.chance(0.5) {
                        Heavy::Memory
                    } else {
                        Heavy::Cpu
                    }),
                    Mix::Mixed => match rng.below(10) {
                        0..=6 => None,
                        7 | 8 => Some(Heavy::Memory),
                        _ => Some(Heavy::Cpu),
                    },
                    // Simple first, standard in the middle, heavy at the end.
                    Mix::Gradual => match i * 3 / n {
                        0 => Some(Heavy::Simple),
                        1 => None,
                        _ => Some(if i % 2 == 0 {
                            Heavy::Memory
                        } else {
                            Heavy::Cpu
                        }),
                    },
                };
                let heavy = if self.mix == Mix::Simple {
                    Some(Heavy::Simple)
                } else {
                    heavy
                };
                let mut q = match heavy {
                    None => standard[i].clone(),
                    Some(h) => heavy_query(h, content, &mut rng),
                };
                let kind = heavy.map_or("standard", Heavy::as_str);
                q.id = format!("{name}-{i:04}");
                q.scenario = name.to_owned();
                q.category = format!("{prefix}:{kind}");
                q.tags = vec![prefix.to_owned(), kind.to_owned()];
                q
            })
            .collect();
        if self.mix == Mix::Users {
            let users = match &self.load {
                LoadProfile::Closed(c) => c.users.max(1),
                LoadProfile::Open(_) => 1,
            };
            for (i, q) in out.iter_mut().enumerate() {
                q.user_id = Some(format!("sim-user-{:02}", i % users));
                if !content.channels.is_empty() {
                    q.channel = Some(content.channels[i % content.channels.len()].name.clone());
                }
            }
        }
        out
    }

    fn load_profile(&self) -> LoadProfile {
        self.load.clone()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heavy {
    Simple,
    Memory,
    Cpu,
}

impl Heavy {
    fn as_str(self) -> &'static str {
        match self {
            Heavy::Simple => "simple",
            Heavy::Memory => "memory",
            Heavy::Cpu => "cpu",
        }
    }
}

fn pick_names<T>(
    items: &[T],
    rng: &mut SplitMix64,
    n: usize,
    name: impl Fn(&T) -> &str,
) -> Vec<String> {
    // Distinct items, in a seeded order (a partial Fisher–Yates shuffle of the indices).
    let mut idx: Vec<usize> = (0..items.len()).collect();
    let n = n.min(idx.len());
    for k in 0..n {
        let j = k + rng.index(idx.len() - k);
        idx.swap(k, j);
    }
    idx[..n]
        .iter()
        .map(|&i| name(&items[i]).to_owned())
        .collect()
}

/// One heavy (or simple) query with its expectations.
fn heavy_query(h: Heavy, c: &ContentProfile, rng: &mut SplitMix64) -> Query {
    let terms = pick_names(&c.top_terms, rng, 5, |t| t.term.as_str());
    let users = pick_names(&c.users[..c.users.len().min(30)], rng, 5, |u| {
        u.name.as_str()
    });
    let channel = rng
        .pick(&c.channels)
        .map_or_else(|| "general".to_owned(), |ch| ch.name.clone());
    let days = c.span_days().ceil().max(1.0) as u64;
    let t = |i: usize| terms.get(i).map_or("project", String::as_str);
    let u = |i: usize| users.get(i).map_or("alice", String::as_str);
    let (text, agent, fact): (String, &str, Option<String>) = match (h, rng.below(4)) {
        (Heavy::Simple, 0) => (
            "How many messages have been sent in this server?".to_owned(),
            agents::SERVER_ANALYSIS,
            Some(c.total_messages.to_string()),
        ),
        (Heavy::Simple, 1) => (
            format!("Search for messages about {}", t(0)),
            agents::SEMANTIC_SEARCH,
            terms.first().cloned(),
        ),
        (Heavy::Simple, 2) => (
            "Which channel is the most active in this server?".to_owned(),
            agents::SERVER_ANALYSIS,
            c.channels.first().map(|ch| ch.name.clone()),
        ),
        (Heavy::Simple, _) => (
            format!("How active is {} in this server?", u(0)),
            agents::USER_ANALYSIS,
            users.first().cloned(),
        ),
        (Heavy::Memory, 0) => (
            format!("Summarize #{channel} over its whole {days}-day history, every week in detail"),
            agents::DIGEST_GENERATION,
            Some(channel.clone()),
        ),
        (Heavy::Memory, 1) => (
            format!(
                "Search all {} messages for {}, {}, {}, {} and {} and quote every match",
                c.total_messages,
                t(0),
                t(1),
                t(2),
                t(3),
                t(4)
            ),
            agents::SEMANTIC_SEARCH,
            terms.first().cloned(),
        ),
        (Heavy::Memory, 2) => (
            format!("What does {} usually talk about? List every message they have ever sent", u(0)),
            agents::USER_ANALYSIS,
            users.first().cloned(),
        ),
        (Heavy::Memory, _) => {
            let context: Vec<&str> = (0..3_000)
                .map(|_| rng.pick(&c.top_terms).map_or("context", |x| x.term.as_str()))
                .collect();
            (
                format!("Search for messages about {}. Context: {}", t(0), context.join(" ")),
                agents::SEMANTIC_SEARCH,
                terms.first().cloned(),
            )
        }
        (Heavy::Cpu, 0) => (
            format!(
                "Analyze the activity of user {} compared with {}, {}, {} and {}, hour by hour over the last {days} days",
                u(0),
                u(1),
                u(2),
                u(3),
                u(4)
            ),
            agents::USER_ANALYSIS,
            users.first().cloned(),
        ),
        (Heavy::Cpu, 1) => (
            "Give me an overview of server activity and statistics per channel, per week and per hour, \
             with the correlation between message length and reactions"
                .to_owned(),
            agents::SERVER_ANALYSIS,
            c.channels.first().map(|ch| ch.name.clone()),
        ),
        (Heavy::Cpu, 2) => (
            format!(
                "Find discussions mentioning {} and {} but not {}, ranked by relevance and grouped by channel",
                t(0),
                t(1),
                t(2)
            ),
            agents::SEMANTIC_SEARCH,
            None,
        ),
        (Heavy::Cpu, _) => (
            format!(
                "What were the highlights in #{channel} over the past 30 days? Rank the top topics of every day"
            ),
            agents::DIGEST_GENERATION,
            Some(channel.clone()),
        ),
    };
    let mut q = Query::new(String::new(), text, String::new())
        .with_expected_agent(agent)
        .with_expectation(Expectation::AnswerNotEmpty)
        .with_expectation(Expectation::NoInternalErrorLeak);
    if let Some(text) = fact {
        q = q.with_expectation(Expectation::AnswerContains { text });
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_length_profiles_match_the_original_suite() {
        let all: Vec<LoadScenario> = stress_scenarios()
            .into_iter()
            .chain(load_scenarios())
            .collect();
        let hf = all
            .iter()
            .find(|s| s.info.name == "stress_high_frequency")
            .unwrap();
        let LoadProfile::Open(o) = &hf.load else {
            panic!("high frequency is open loop")
        };
        assert_eq!(o.stages.len(), 1);
        assert_eq!(o.stages[0].start_rate, 20.0);
        assert_eq!(hf.load.duration(), Some(secs(60)));
        for s in &all {
            s.load.validate(&s.info.name).unwrap();
        }
        let total: Duration = all.iter().filter_map(|s| s.load.duration()).sum();
        assert_eq!(total, secs(430));
    }

    #[test]
    fn closed_loops_with_a_duration_are_sized_by_it() {
        let p = LoadProfile::Closed(ClosedLoop {
            users: 2,
            think_time: Duration::from_millis(980),
            rate_limit_per_second: None,
            duration: Some(secs(10)),
        });
        assert_eq!(queries_needed(&p), Some(2 * 11));
        assert_eq!(queries_needed(&LoadProfile::closed(3, None)), None);
        assert_eq!(
            queries_needed(&LoadProfile::constant(20.0, secs(60), 5)),
            Some(1_201)
        );
    }
}
