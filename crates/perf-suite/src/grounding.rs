//! Whom the run talks to: whether the bot answers from the configured message database
//! (so the generated queries' expected facts apply), and what its agents are called.
//!
//! The generated queries know the generated server: "82 messages", user `clara42`, and
//! the reference bot's agent names. A user's own bot answers from its own server and names
//! its agents its own way; judging it on our facts calls a healthy bot broken. So before
//! the run a few generated queries calibrate (`grounding: auto`): when the bot clearly
//! does not answer from the database, the grounded facts become not applicable (a check
//! not measured, with the reason and how to get them), and routing is judged only where
//! the bot's agent names are known (the config's `agents` mapping, or names that match).
//! Every other expectation (answered, in time, no internal error leak, no echo, no secret)
//! keeps judging.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perf_core::record::{CheckGroup, CheckResult};
use perf_core::{
    async_trait, BotResponse, BotTarget, ConfigError, Expectation, Query, Redactor, TargetError,
    TargetInfo,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

/// The `grounding` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grounding {
    /// Calibrate before the run and judge the facts only when the bot knows them.
    #[default]
    Auto,
    /// Always judge the generated facts (the reference bot, a bot over the same data).
    On,
    /// Never judge the generated facts.
    Off,
}

/// Check names of the grounding group.
pub const GROUNDED_FACTS_CHECK: &str = "grounded_facts";
/// Check name of the routing applicability.
pub const AGENT_ROUTING_CHECK: &str = "agent_routing";

/// Calibration queries sent at most.
pub const CALIBRATION_QUERIES: usize = 6;

/// Fewer answered calibration queries than this decide nothing (the facts stay judged).
const MIN_ANSWERED: usize = 3;

/// Longest agent name shown in a note, in characters.
const MAX_AGENT_NAME_CHARS: usize = 60;

/// Checks the `agents` mapping: keys are critical paths, names are not empty, and no bot
/// agent is mapped to two paths.
pub(crate) fn validate_agents(
    agents: &BTreeMap<String, Vec<String>>,
    critical_paths: &[String],
) -> Result<(), ConfigError> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (path, names) in agents {
        if !critical_paths.iter().any(|p| p == path) {
            let hint = perf_core::closest_match(path, critical_paths.iter().map(String::as_str))
                .map_or_else(String::new, |c| format!(" (did you mean `{c}`?)"));
            return Err(ConfigError::new(
                format!("agents.{path}"),
                format!(
                    "`{path}` is not a critical path{hint}; the keys of `agents` are the names in regression_testing.critical_paths: {}",
                    critical_paths.join(", ")
                ),
            ));
        }
        if names.is_empty() {
            return Err(ConfigError::new(
                format!("agents.{path}"),
                "give at least one of the bot's agent names, e.g. [\"stats\"]",
            ));
        }
        if names.len() > perf_core::MAX_TRACKED_NAMES {
            return Err(ConfigError::new(
                format!("agents.{path}"),
                format!(
                    "{} names: at most {} are tracked",
                    names.len(),
                    perf_core::MAX_TRACKED_NAMES
                ),
            ));
        }
        for (i, name) in names.iter().enumerate() {
            if name.trim().is_empty() || name.chars().count() > MAX_AGENT_NAME_CHARS {
                return Err(ConfigError::new(
                    format!("agents.{path}[{i}]"),
                    format!("an agent name of 1 to {MAX_AGENT_NAME_CHARS} characters"),
                ));
            }
            if let Some(other) = owner.insert(name, path) {
                if other != path {
                    return Err(ConfigError::new(
                        format!("agents.{path}[{i}]"),
                        format!("`{name}` is already mapped to `{other}`: a bot agent belongs to one path"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A target whose answers' agent names go through the `agents` mapping (the bot's
/// `stats` becomes the path `server_analysis`), counting the names the bot returned.
pub(crate) struct MappedAgents {
    inner: Arc<dyn BotTarget>,
    /// Bot agent name → critical path.
    to_path: BTreeMap<String, String>,
    /// The names the bot returned, with how often (at most `MAX_TRACKED_NAMES`).
    seen: Mutex<BTreeMap<String, u64>>,
}

impl MappedAgents {
    pub(crate) fn new(
        inner: Arc<dyn BotTarget>,
        agents: &BTreeMap<String, Vec<String>>,
    ) -> Arc<Self> {
        let to_path = agents
            .iter()
            .flat_map(|(path, names)| names.iter().map(move |n| (n.clone(), path.clone())))
            .collect();
        Arc::new(Self {
            inner,
            to_path,
            seen: Mutex::new(BTreeMap::new()),
        })
    }

    /// One line naming the agents the bot returned and what they were mapped to.
    pub(crate) fn note(&self) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.is_empty() {
            return None;
        }
        let redactor = self.inner.redactor();
        let names: Vec<String> = seen
            .iter()
            .map(|(name, n)| {
                let shown = perf_core::bounded(&redactor, name, MAX_AGENT_NAME_CHARS);
                match self.to_path.get(name) {
                    Some(path) => format!("{shown} ({n}) → {path}"),
                    None => format!("{shown} ({n})"),
                }
            })
            .collect();
        Some(format!(
            "agents the bot returned: {} (map them to critical paths with the config's `agents`)",
            names.join(", ")
        ))
    }
}

#[async_trait]
impl BotTarget for MappedAgents {
    async fn initialize(&self) -> Result<(), TargetError> {
        self.inner.initialize().await
    }

    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let mut r = self.inner.execute(query).await?;
        for name in &mut r.agents {
            {
                let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
                let tracked = seen.len() < perf_core::MAX_TRACKED_NAMES;
                match seen.get_mut(name.as_str()) {
                    Some(n) => *n += 1,
                    None if tracked => {
                        seen.insert(name.clone(), 1);
                    }
                    None => {}
                }
            }
            if let Some(path) = self.to_path.get(name.as_str()) {
                *name = path.clone();
            }
        }
        Ok(r)
    }

    async fn shutdown(&self) -> Result<(), TargetError> {
        self.inner.shutdown().await
    }

    fn process_id(&self) -> Option<u32> {
        self.inner.process_id()
    }

    fn describe(&self) -> TargetInfo {
        self.inner.describe()
    }

    fn redactor(&self) -> Redactor {
        self.inner.redactor()
    }
}

/// What the grounding step decided, and why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroundingDecision {
    /// Why the generated facts are not judged; `None` when they are.
    pub facts_off: Option<String>,
    /// Why routing to the generated queries' agents is not judged; `None` when it is.
    pub routing_off: Option<String>,
    /// What the calibration saw, for the run's notes.
    pub note: Option<String>,
}

impl GroundingDecision {
    /// The checks not measured that the decision leaves (group `grounding`).
    pub fn checks(&self) -> Vec<CheckResult> {
        let mut out = Vec::new();
        if let Some(why) = &self.facts_off {
            out.push(CheckResult::not_measured(
                CheckGroup::Grounding,
                GROUNDED_FACTS_CHECK,
                why.clone(),
            ));
        }
        if let Some(why) = &self.routing_off {
            out.push(CheckResult::not_measured(
                CheckGroup::Grounding,
                AGENT_ROUTING_CHECK,
                why.clone(),
            ));
        }
        out
    }

    /// Removes what the decision says does not apply from the generated queries: the
    /// facts (`answer_contains`, `answer_contains_any`) and the expected agents. Queries
    /// of scenario files and code keep theirs: they are the user's own.
    pub fn apply<'a>(&self, generated: impl IntoIterator<Item = &'a mut Query>) {
        if self.facts_off.is_none() && self.routing_off.is_none() {
            return;
        }
        for q in generated {
            if self.facts_off.is_some() {
                q.expectations.retain(|e| !is_grounded(e));
            }
            if self.routing_off.is_some() {
                q.expected_agent = None;
            }
        }
    }
}

/// Whether an expectation is a fact from the generated data.
fn is_grounded(e: &Expectation) -> bool {
    matches!(
        e,
        Expectation::AnswerContains { .. } | Expectation::AnswerContainsAny { .. }
    )
}

/// How to get the facts judged, said once wherever they are not.
const HOW_TO_GROUND: &str = "to judge them, point `database_path` at the bot's own data, import the DiscordChatExporter export the bot serves (`orchestrator import`), or give your own questions; `grounding: \"on\"` forces them";

/// Decides the grounding before the run. `on` judges everything as generated; `off` turns
/// the facts off; `auto` sends up to [`CALIBRATION_QUERIES`] generated queries (one per
/// critical path first) and turns the facts off when at most a quarter of the answers
/// hold them, and routing off (without an `agents` mapping) when no answer named the
/// expected agent. Fewer than three answers decide nothing. `known` skips the calibration:
/// the embedded reference bot reads the configured database by construction, and a
/// `questions` file's expectations are the user's own.
pub(crate) async fn decide(
    grounding: Grounding,
    known: bool,
    has_mapping: bool,
    target: &dyn BotTarget,
    standard: &[Query],
    timeout: Duration,
    cancel: &CancellationToken,
) -> GroundingDecision {
    if grounding == Grounding::On || known {
        return GroundingDecision::default();
    }
    let picks = calibration_queries(standard);
    let mut answered = 0usize;
    let mut held = 0usize;
    let mut routed = 0usize;
    let mut with_facts = 0usize;
    for q in &picks {
        let r = tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            r = tokio::time::timeout(timeout, target.execute(q)) => r,
        };
        let Ok(Ok(r)) = r else { continue };
        answered += 1;
        let facts: Vec<Expectation> = q
            .expectations
            .iter()
            .filter(|e| is_grounded(e))
            .cloned()
            .collect();
        if !facts.is_empty() {
            with_facts += 1;
            if perf_core::check_expectations(&facts, &r).is_empty() {
                held += 1;
            }
        }
        if q.expected_agent.is_some() && r.primary_agent() == q.expected_agent.as_deref() {
            routed += 1;
        }
    }
    let sent = picks.len();
    let mut d = GroundingDecision::default();
    if answered < MIN_ANSWERED {
        d.note = Some(format!(
            "grounding: {answered} of {sent} calibration queries were answered, too few to tell whether the bot answers from the configured database; the generated facts are judged"
        ));
        if grounding == Grounding::Off {
            d.facts_off = Some(format!(
                "not measured: `grounding` is \"off\", so the generated server's facts were not judged; {HOW_TO_GROUND}"
            ));
        }
        return d;
    }
    let knows = held * 4 > with_facts;
    let facts_note =
        format!("{held} of {with_facts} calibration answers held the generated server's facts");
    if grounding == Grounding::Off {
        d.facts_off = Some(format!(
            "not measured: `grounding` is \"off\", so the generated server's facts were not judged; {HOW_TO_GROUND}"
        ));
    } else if !knows {
        d.facts_off = Some(format!(
            "not measured: the bot does not answer from the configured database ({facts_note}), so the generated server's facts were not judged; {HOW_TO_GROUND}"
        ));
    }
    if !has_mapping && routed == 0 {
        d.routing_off = Some(format!(
            "not measured: none of {answered} calibration answers named the agent the generated queries expect (server_analysis, semantic_search, user_analysis, digest_generation), so routing was not judged; map the bot's own agent names with the config's `agents` (e.g. {{\"server_analysis\": [\"stats\"]}}) or give questions with your own `expected_agent`"
        ));
    }
    d.note = Some(format!(
        "grounding: {} ({answered} of {sent} calibration queries answered: {facts_note}, {routed} named the expected agent); {}",
        match grounding {
            Grounding::Off => "off",
            _ => "auto",
        },
        match (&d.facts_off, &d.routing_off) {
            (None, None) => "facts and routing judged".to_owned(),
            (Some(_), None) => "facts not judged, routing judged".to_owned(),
            (None, Some(_)) => "facts judged, routing not judged".to_owned(),
            (Some(_), Some(_)) => "facts and routing not judged".to_owned(),
        }
    ));
    d
}

/// Up to [`CALIBRATION_QUERIES`] standard queries with facts, one per category in turn.
fn calibration_queries(standard: &[Query]) -> Vec<Query> {
    let mut by_category: BTreeMap<&str, Vec<&Query>> = BTreeMap::new();
    for q in standard
        .iter()
        .filter(|q| q.expectations.iter().any(is_grounded))
    {
        by_category.entry(q.category.as_str()).or_default().push(q);
    }
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < CALIBRATION_QUERIES {
        let before = out.len();
        for qs in by_category.values() {
            if let Some(q) = qs.get(round) {
                if out.len() < CALIBRATION_QUERIES {
                    let mut q = (*q).clone();
                    q.id = format!("calibration-{}", out.len() + 1);
                    out.push(q);
                }
            }
        }
        if out.len() == before {
            break;
        }
        round += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<String> {
        perf_core::agents::ALL
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn a_mapping_names_critical_paths_and_each_bot_agent_once() {
        let ok = BTreeMap::from([("server_analysis".to_owned(), vec!["stats".to_owned()])]);
        validate_agents(&ok, &paths()).unwrap();
        let typo = BTreeMap::from([("server_analysys".to_owned(), vec!["stats".to_owned()])]);
        let e = validate_agents(&typo, &paths()).unwrap_err().to_string();
        assert!(e.contains("agents.server_analysys"), "{e}");
        assert!(e.contains("did you mean `server_analysis`"), "{e}");
        let empty = BTreeMap::from([("server_analysis".to_owned(), vec![])]);
        assert!(validate_agents(&empty, &paths()).is_err());
        let twice = BTreeMap::from([
            ("server_analysis".to_owned(), vec!["stats".to_owned()]),
            ("user_analysis".to_owned(), vec!["stats".to_owned()]),
        ]);
        let e = validate_agents(&twice, &paths()).unwrap_err().to_string();
        assert!(e.contains("already mapped"), "{e}");
    }

    #[test]
    fn calibration_takes_one_query_per_path_first() {
        let mut standard = Vec::new();
        for (i, cat) in ["a", "b", "c", "a", "b", "c", "a"].iter().enumerate() {
            standard.push(
                Query::new(format!("q{i}"), "t", *cat)
                    .with_expectation(Expectation::AnswerContains { text: "x".into() }),
            );
        }
        standard.push(Query::new("nofacts", "t", "d"));
        let picks = calibration_queries(&standard);
        let cats: Vec<&str> = picks.iter().map(|q| q.category.as_str()).collect();
        assert_eq!(cats, ["a", "b", "c", "a", "b", "c"]);
        assert!(picks.iter().all(|q| q.id.starts_with("calibration-")));
    }

    #[test]
    fn applying_a_decision_keeps_every_expectation_but_the_facts() {
        let mut q = Query::new("q", "t", "server_analysis")
            .with_expected_agent("server_analysis")
            .with_expectation(Expectation::AnswerNotEmpty)
            .with_expectation(Expectation::NoInternalErrorLeak)
            .with_expectation(Expectation::AnswerContains { text: "82".into() });
        let d = GroundingDecision {
            facts_off: Some("x".into()),
            routing_off: Some("y".into()),
            note: None,
        };
        d.apply([&mut q]);
        assert_eq!(
            q.expectations,
            [
                Expectation::AnswerNotEmpty,
                Expectation::NoInternalErrorLeak
            ]
        );
        assert_eq!(q.expected_agent, None);
        assert!(d.checks().iter().all(|c| c.unmeasured()));
        assert_eq!(d.checks().len(), 2);
    }
}
