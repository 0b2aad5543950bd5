//! Robustness verdicts: which hostile input broke which agent, and how.
//!
//! Hostile queries must be answered gracefully: in time, meeting every expectation. A
//! health probe is judged against its *control*, the same query sent before any hostile
//! input: it must be answered in time, by the agent that answered the control, failing no
//! expectation the control met. Whether the bot knows our facts is the critical paths'
//! business; here a bot that never knew them is healthy as long as it answers as it did.

use std::collections::{BTreeMap, BTreeSet};

use perf_core::record::CheckResult;
use perf_core::{Expectation, Outcome, Sample};
use serde::{Deserialize, Serialize};

use crate::edge::EdgeRole;

/// A class passes when at least this share of its queries (hostile ones and their health
/// probes) was handled gracefully: all of them, by default.
pub const DEFAULT_ROBUSTNESS_THRESHOLD: f64 = 1.0;

/// The [`CheckResult::group`] of robustness checks.
pub const ROBUSTNESS_CHECK_GROUP: perf_core::record::CheckGroup =
    perf_core::record::CheckGroup::Robustness;

/// The pass rule of a health probe, as reports and the docs state it (once per table).
pub use perf_core::record::HEALTH_PROBE_RULE;

/// The failure mode of a probe answered by another agent than its control.
pub const AGENT_CHANGED: &str = "agent_changed";

/// Longest answer excerpt kept in a failure, in characters.
const EXCERPT_CHARS: usize = 200;

/// How many queries of a group were handled gracefully, and how the rest failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessStats {
    /// Queries.
    pub queries: u64,
    /// Handled gracefully: a hostile query or control answered in time with every
    /// expectation met; a health probe answered as well as its control.
    pub graceful: u64,
    /// `graceful / queries` (1.0 when there were none).
    pub rate: f64,
    /// Failed queries per failure mode: the outcome label (`failed_expectation`,
    /// `timeout`, `error:bot`, ...) or, for a probe, [`AGENT_CHANGED`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failure_modes: BTreeMap<String, u64>,
}

impl Default for RobustnessStats {
    fn default() -> Self {
        Self {
            queries: 0,
            graceful: 0,
            rate: 1.0,
            failure_modes: BTreeMap::new(),
        }
    }
}

impl RobustnessStats {
    fn add(&mut self, failure_mode: Option<&str>) {
        self.queries += 1;
        match failure_mode {
            None => self.graceful += 1,
            Some(mode) => *self.failure_modes.entry(mode.to_owned()).or_default() += 1,
        }
        self.rate = self.graceful as f64 / self.queries as f64;
    }
}

/// Robustness of one edge-case class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRobustness {
    /// What the class sends.
    pub description: String,
    /// The hostile queries: answered gracefully?
    pub hostile: RobustnessStats,
    /// The health probes sent after them: answered as well as their controls?
    pub health: RobustnessStats,
    /// Share of hostile queries and probes together that went well.
    pub rate: f64,
    /// `rate >= threshold`.
    pub passed: bool,
    /// Expectations that failed the class's queries, per name: every failed expectation of
    /// a failed hostile query, and those of a probe its control met.
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
    /// The failure mode: the outcome label, or [`AGENT_CHANGED`].
    pub outcome: String,
    /// One line: what went wrong.
    pub how: String,
    /// The start of the answer, when there was one and the runner kept it (it keeps the
    /// answers of queries that failed an expectation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_excerpt: Option<String>,
}

/// Robustness per edge-case class and per agent, with the failing queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessReport {
    /// The pass threshold for a class's rate.
    pub threshold: f64,
    /// All hostile queries and probes.
    pub overall: RobustnessStats,
    /// The control copies of the probes; graceful ones met every expectation. They pass
    /// or fail no class: they set the bar for the probes.
    pub controls: RobustnessStats,
    /// Per class (snake_case name), in name order.
    pub classes: BTreeMap<String, ClassRobustness>,
    /// Per agent that handled hostile queries and probes (the answering agent, else the
    /// one the query was meant for, else `unrouted`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, RobustnessStats>,
    /// Every hostile query and probe that failed, in the order of the samples.
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

/// `true` when the target answered (whatever the answer's expectations said).
fn answered(s: &Sample) -> bool {
    matches!(s.outcome, Outcome::Ok | Outcome::FailedExpectation)
}

/// One line on an outcome.
fn describe(s: &Sample) -> String {
    match s.outcome {
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
    }
}

/// Why a query failed: its failure mode, a line on it, and the expectations to blame.
struct Verdict {
    mode: String,
    how: String,
    expectations: Vec<String>,
}

/// A hostile query (or a control) is graceful when answered with every expectation met.
fn hostile_verdict(s: &Sample) -> Option<Verdict> {
    (!s.outcome.is_success()).then(|| Verdict {
        mode: s.outcome.label(),
        how: describe(s),
        expectations: s
            .failed_expectations
            .iter()
            .map(|f| f.expectation.clone())
            .collect(),
    })
}

/// The expectations on facts from the data: without an answered control, the only ones a
/// probe may fail (a bot need not know our facts to be healthy).
fn grounded_expectations() -> BTreeSet<String> {
    [
        Expectation::AnswerContains {
            text: String::new(),
        },
        Expectation::AnswerContainsAny { any_of: Vec::new() },
    ]
    .iter()
    .map(|e| e.name().to_owned())
    .collect()
}

/// The health-probe rule ([`HEALTH_PROBE_RULE`]): `None` when `probe` was answered as well
/// as `control`. Without an answered control the probe must be answered in time and meet
/// every expectation but the grounded ones.
fn probe_verdict(probe: &Sample, control: Option<&Sample>) -> Option<Verdict> {
    let hostile = probe
        .query_id
        .strip_suffix("-health")
        .unwrap_or(&probe.query_id);
    let unhealthy = |mode: String, what: String, expectations: Vec<String>| {
        Some(Verdict {
            mode,
            how: format!("unhealthy after {hostile}: {what}"),
            expectations,
        })
    };
    if !answered(probe) {
        return unhealthy(probe.outcome.label(), describe(probe), Vec::new());
    }
    let control = control.filter(|c| answered(c));
    if let Some(c) = control {
        if c.agent.is_some() && probe.agent != c.agent {
            let by = probe.agent.as_deref().unwrap_or("no agent");
            let was = c.agent.as_deref().unwrap_or("no agent");
            return unhealthy(
                AGENT_CHANGED.to_owned(),
                format!("answered by {by}, its control {} by {was}", c.query_id),
                Vec::new(),
            );
        }
    }
    let allowed: BTreeSet<String> = match control {
        Some(c) => c
            .failed_expectations
            .iter()
            .map(|f| f.expectation.clone())
            .collect(),
        None => grounded_expectations(),
    };
    let newly: Vec<_> = probe
        .failed_expectations
        .iter()
        .filter(|f| !allowed.contains(&f.expectation))
        .collect();
    if newly.is_empty() {
        return None;
    }
    let details: Vec<&str> = newly.iter().map(|f| f.detail.as_str()).collect();
    let what = match control {
        Some(c) if c.outcome.is_success() => format!(
            "its control {} met every expectation, this answer did not: {}",
            c.query_id,
            details.join("; ")
        ),
        Some(c) => format!(
            "worse than its control {}: {}",
            c.query_id,
            details.join("; ")
        ),
        None => format!("(no answered control) {}", details.join("; ")),
    };
    unhealthy(
        Outcome::FailedExpectation.label(),
        what,
        newly.iter().map(|f| f.expectation.clone()).collect(),
    )
}

/// Computes robustness from the edge-case scenario's samples (other samples are
/// ignored): per class (hostile queries and the health probes after them), per agent, and
/// every failing query. A hostile query is graceful when answered in time with every
/// expectation met; a probe when it meets [`HEALTH_PROBE_RULE`] against the control to the
/// same agent. `threshold` is the share of a class's queries that must go well for it to
/// pass (see [`DEFAULT_ROBUSTNESS_THRESHOLD`]).
pub fn robustness_report(samples: &[Sample], threshold: f64) -> RobustnessReport {
    let mut controls_by_agent: BTreeMap<&str, &Sample> = BTreeMap::new();
    let mut controls = RobustnessStats::default();
    for s in samples {
        if EdgeRole::from_category(&s.category) == Some(EdgeRole::Control) {
            controls.add(hostile_verdict(s).as_ref().map(|v| v.mode.as_str()));
            if let Some(agent) = s.expected_agent.as_deref() {
                controls_by_agent.entry(agent).or_insert(s);
            }
        }
    }

    let mut overall = RobustnessStats::default();
    let mut classes: BTreeMap<String, ClassRobustness> = BTreeMap::new();
    let mut agents: BTreeMap<String, RobustnessStats> = BTreeMap::new();
    let mut failures = Vec::new();
    for s in samples {
        let (class, probe) = match EdgeRole::from_category(&s.category) {
            Some(EdgeRole::Hostile(c)) => (c, false),
            Some(EdgeRole::Probe(c)) => (c, true),
            Some(EdgeRole::Control) | None => continue,
        };
        let verdict = if probe {
            let control = s
                .expected_agent
                .as_deref()
                .and_then(|a| controls_by_agent.get(a).copied());
            probe_verdict(s, control)
        } else {
            hostile_verdict(s)
        };
        let mode = verdict.as_ref().map(|v| v.mode.as_str());
        overall.add(mode);
        let agent = s
            .agent
            .as_deref()
            .or(s.expected_agent.as_deref())
            .unwrap_or("unrouted");
        agents.entry(agent.to_owned()).or_default().add(mode);
        let c = classes
            .entry(class.as_str().to_owned())
            .or_insert_with(|| ClassRobustness {
                description: class.description().to_owned(),
                hostile: RobustnessStats::default(),
                health: RobustnessStats::default(),
                rate: 1.0,
                passed: true,
                failed_expectations: BTreeMap::new(),
            });
        if probe {
            c.health.add(mode);
        } else {
            c.hostile.add(mode);
        }
        let Some(v) = verdict else {
            continue;
        };
        for e in &v.expectations {
            *c.failed_expectations.entry(e.clone()).or_default() += 1;
        }
        failures.push(RobustnessFailure {
            class: class.as_str().to_owned(),
            health_probe: probe,
            query_id: s.query_id.clone(),
            expected_agent: s.expected_agent.clone(),
            agent: s.agent.clone(),
            outcome: v.mode,
            how: v.how,
            answer_excerpt: s.answer_excerpt.as_deref().map(excerpt),
        });
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

    RobustnessReport {
        threshold,
        overall,
        controls,
        classes,
        agents,
        failures,
    }
}

impl RobustnessReport {
    /// One check per class, group `robustness`: passed when the class's rate reaches the
    /// threshold. The reason names the failing queries, their agents and what went wrong;
    /// the health-probe rule is [`perf_core::record::CheckGroup::rule`], stated once per table.
    pub fn checks(&self) -> Vec<CheckResult> {
        self.classes
            .iter()
            .map(|(name, c)| {
                let total = c.hostile.queries + c.health.queries;
                let good = c.hostile.graceful + c.health.graceful;
                let mut reason = format!(
                    "{good}/{total} graceful ({:.1}%, threshold {:.1}%): {}/{} hostile queries \
                     handled, {}/{} health probes afterwards answered as well as their controls \
                     ({}/{} controls met every expectation)",
                    c.rate * 100.0,
                    self.threshold * 100.0,
                    c.hostile.graceful,
                    c.hostile.queries,
                    c.health.graceful,
                    c.health.queries,
                    self.controls.graceful,
                    self.controls.queries,
                );
                let examples: Vec<String> = self
                    .failures
                    .iter()
                    .filter(|f| &f.class == name)
                    .take(3)
                    .map(|f| {
                        let agent = match (f.agent.as_deref(), f.expected_agent.as_deref()) {
                            (Some(a), Some(e)) if a != e => format!("{a}, meant for {e}"),
                            (Some(a), _) | (None, Some(a)) => a.to_owned(),
                            (None, None) => "no agent".to_owned(),
                        };
                        format!("{} ({agent}): {}", f.query_id, f.how)
                    })
                    .collect();
                if !examples.is_empty() {
                    reason.push_str("; e.g. ");
                    reason.push_str(&examples.join(" | "));
                }
                CheckResult {
                    group: ROBUSTNESS_CHECK_GROUP,
                    name: name.clone(),
                    status: perf_core::record::CheckStatus::from_passed(c.passed),
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

#[cfg(test)]
mod tests {
    use std::ffi::CString;

    use async_trait::async_trait;
    use perf_core::{
        agents, BotResponse, BotTarget, ChannelStat, ContentProfile, ErrorKind, Query, Scenario,
        TargetError, TargetInfo, TermStat, UserStat,
    };
    use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

    use super::*;
    use crate::{EdgeCaseScenario, EdgeClass, SCHEMA_SQL};

    fn profile() -> ContentProfile {
        ContentProfile {
            total_messages: 3,
            channels: vec![ChannelStat {
                name: "general".into(),
                messages: 3,
            }],
            users: vec![UserStat {
                name: "alice".into(),
                messages: 3,
            }],
            top_terms: vec![TermStat {
                term: "rust".into(),
                count: 2,
            }],
            first_message_at: 0,
            last_message_at: 86_400,
        }
    }

    /// The subject of a standard phrasing, and the agent it goes to.
    fn route(text: &str) -> (&str, &'static str) {
        let t = text.trim();
        if let Some(s) = t.strip_prefix("Search for messages about ") {
            (s, agents::SEMANTIC_SEARCH)
        } else if let Some(s) = t.strip_prefix("What does ") {
            (
                s.strip_suffix(" usually talk about?").unwrap_or(s),
                agents::USER_ANALYSIS,
            )
        } else if let Some(s) = t.strip_prefix("Summarize #") {
            (
                s.strip_suffix(" from the last 7 days").unwrap_or(s),
                agents::DIGEST_GENERATION,
            )
        } else if t.starts_with("Which channel is the most active") {
            ("", agents::SERVER_ANALYSIS)
        } else {
            (t, "chat")
        }
    }

    /// A bot with the classic mistakes: it builds SQL by pasting the query in, shows
    /// database errors to the user, echoes input unescaped, assumes ASCII, passes text to
    /// C strings, obeys instructions in the query, expands shell syntax, and sends answers
    /// over Discord's length limit.
    #[derive(Debug)]
    struct NaiveBot {
        db: SqlitePool,
    }

    impl NaiveBot {
        async fn new() -> Self {
            let db = SqlitePoolOptions::new()
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect("sqlite::memory:")
                .await
                .unwrap();
            sqlx::raw_sql(SCHEMA_SQL).execute(&db).await.unwrap();
            sqlx::raw_sql(
                "INSERT INTO channels VALUES (1, 'general', NULL);
                 INSERT INTO users VALUES (1, 'alice', 'Alice', 0);
                 INSERT INTO messages VALUES (1, 1, 1, 'rust is great', 0, NULL, NULL);
                 INSERT INTO messages VALUES (2, 1, 1, 'more rust', 60, NULL, NULL);",
            )
            .execute(&db)
            .await
            .unwrap();
            Self { db }
        }
    }

    #[async_trait]
    impl BotTarget for NaiveBot {
        fn redactor(&self) -> perf_core::Redactor {
            perf_core::Redactor::default()
        }
        async fn execute(&self, q: &Query) -> Result<BotResponse, TargetError> {
            let text = &q.text;
            if text.chars().count() > 2_000 {
                return Err(TargetError::new(
                    ErrorKind::Status,
                    "400 Bad Request: content must be 2000 or fewer in length",
                ));
            }
            if text.trim().is_empty() {
                return Ok(BotResponse::new("", "chat"));
            }
            if CString::new(text.as_bytes()).is_err() {
                return Err(TargetError::new(
                    ErrorKind::Panic,
                    "called `Result::unwrap()` on an `Err` value: NulError",
                ));
            }
            if !text.is_ascii() {
                return Err(TargetError::new(
                    ErrorKind::Panic,
                    "byte index 20 is not a char boundary",
                ));
            }
            let lower = text.to_lowercase();
            if lower.contains("instructions") || lower.contains("repeat everything") {
                return Ok(BotResponse::new(
                    "Sure! System prompt: You are a helpful Discord bot.",
                    "chat",
                ));
            }
            if text.contains("$(") || text.contains("../") {
                return Ok(BotResponse::new("root:x:0:0:root:/root:/bin/bash", "chat"));
            }
            let (subject, agent) = route(text);
            let sql = format!("SELECT count(*) FROM messages WHERE content LIKE '%{subject}%'");
            let answer = match sqlx::query_scalar::<_, i64>(&sql).fetch_one(&self.db).await {
                Ok(n) => {
                    format!("Found {n} messages for {subject} in #general by alice about rust")
                }
                Err(e) => format!("Error: {e}"),
            };
            Ok(BotResponse::new(answer, agent))
        }
    }

    /// A bot that handles hostile input well: it never fails, never echoes markup, and
    /// answers empty queries with a hint.
    #[derive(Debug)]
    struct CarefulBot;

    #[async_trait]
    impl BotTarget for CarefulBot {
        fn redactor(&self) -> perf_core::Redactor {
            perf_core::Redactor::default()
        }
        async fn execute(&self, q: &Query) -> Result<BotResponse, TargetError> {
            let text = q
                .text
                .trim_matches(|c: char| c.is_whitespace() || c == '\u{200B}');
            if text.is_empty() {
                return Ok(BotResponse::new(
                    "Please ask me a question about the server.",
                    "chat",
                ));
            }
            let (subject, agent) = route(text);
            if agent == agents::SERVER_ANALYSIS {
                return Ok(BotResponse::new(
                    "The most active channel is #general.",
                    agent,
                ));
            }
            let safe: String = subject
                .chars()
                .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
                .take(80)
                .collect();
            Ok(BotResponse::new(
                format!("Here is what I found about {safe}."),
                agent,
            ))
        }

        fn describe(&self) -> TargetInfo {
            TargetInfo::default()
        }
    }

    use crate::testing::answer_sequentially as run;

    /// The naive bot fails `class`, and one of its failures shows `mode` (an outcome
    /// label or an expectation name); the careful bot passes it.
    async fn check_class(class: EdgeClass, mode: &str) {
        let queries = EdgeCaseScenario::new()
            .with_classes([class])
            .queries(&profile(), 7);
        assert!(queries.len() >= 6, "{class}: {} queries", queries.len());

        let good = robustness_report(&run(&CarefulBot, &queries).await, 1.0);
        let c = &good.classes[class.as_str()];
        assert!(c.passed, "careful bot failed {class}: {:#?}", good.failures);
        assert_eq!(c.rate, 1.0);
        assert!(good.checks().iter().all(|k| k.passed()));
        assert_eq!(good.controls.graceful, good.controls.queries);

        let naive = robustness_report(&run(&NaiveBot::new().await, &queries).await, 1.0);
        let c = &naive.classes[class.as_str()];
        assert!(!c.passed, "naive bot passed {class}");
        assert!(c.rate < 1.0);
        let check = naive
            .checks()
            .into_iter()
            .find(|k| k.name == class.as_str())
            .unwrap();
        assert!(!check.passed());
        assert_eq!(check.group, ROBUSTNESS_CHECK_GROUP);
        assert!(
            naive.failures.iter().any(|f| f.class == class.as_str()
                && (f.outcome == mode || c.failed_expectations.contains_key(mode))),
            "{class}: no failure shows {mode}: {:#?}",
            naive.failures
        );
        assert!(check.reason.contains("edge-"), "{}", check.reason);
    }

    macro_rules! class_tests {
        ($($test:ident: $class:ident => $mode:literal,)*) => {$(
            #[tokio::test]
            async fn $test() {
                check_class(EdgeClass::$class, $mode).await;
            }
        )*};
    }

    class_tests! {
        naive_fails_long_query: LongQuery => "error:status",
        naive_fails_discord_limit: DiscordLimit => "error:status",
        naive_fails_sql_injection: SqlInjection => "no_internal_error_leak",
        naive_fails_xss: Xss => "no_unescaped_echo",
        naive_fails_html: Html => "no_unescaped_echo",
        naive_fails_control_chars: ControlChars => "error:panic",
        naive_fails_emoji: Emoji => "error:panic",
        naive_fails_unicode: Unicode => "error:panic",
        naive_fails_homoglyph: Homoglyph => "error:panic",
        naive_fails_empty: Empty => "answer_not_empty",
        naive_fails_prompt_injection: PromptInjection => "no_secret_disclosure",
        naive_fails_discord_markup: DiscordMarkup => "no_unescaped_echo",
        naive_fails_command_injection: CommandInjection => "no_secret_disclosure",
    }

    /// A bot that dies (refuses connections) once it has seen `DROP TABLE`.
    #[derive(Debug, Default)]
    struct FragileBot {
        dead: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl BotTarget for FragileBot {
        fn redactor(&self) -> perf_core::Redactor {
            perf_core::Redactor::default()
        }
        async fn execute(&self, q: &Query) -> Result<BotResponse, TargetError> {
            use std::sync::atomic::Ordering;
            if self.dead.load(Ordering::SeqCst) {
                return Err(TargetError::connect("connection refused"));
            }
            if q.text.contains("DROP TABLE") {
                self.dead.store(true, Ordering::SeqCst);
            }
            CarefulBot.execute(q).await
        }
    }

    #[tokio::test]
    async fn a_bot_broken_by_a_hostile_query_shows_up_as_unhealthy_afterwards() {
        let queries = EdgeCaseScenario::new()
            .with_classes([EdgeClass::SqlInjection])
            .queries(&profile(), 7);
        let report = robustness_report(&run(&FragileBot::default(), &queries).await, 1.0);
        let c = &report.classes["sql_injection"];
        // The DROP TABLE query itself was answered; everything after it failed.
        assert_eq!(c.hostile.graceful, 1);
        assert_eq!(c.health.graceful, 0);
        assert_eq!(c.health.failure_modes["error:connect"], c.health.queries);
        let first = report.failures.iter().find(|f| f.health_probe).unwrap();
        assert_eq!(first.query_id, "edge-sql_injection-00-health");
        assert_eq!(
            first.how,
            "unhealthy after edge-sql_injection-00: error (connect): connection refused"
        );
        let check = &report.checks()[0];
        assert!(!check.passed());
        assert!(
            check.reason.starts_with("1/12 graceful"),
            "{}",
            check.reason
        );
    }

    fn sample(id: &str, category: &str, agent: Option<&str>, outcome: Outcome) -> Sample {
        Sample {
            expected_agent: Some("semantic_search".into()),
            agent: agent.map(str::to_owned),
            ..Sample::new(id, "edge_cases", category, outcome, 1_000)
        }
    }

    fn failing(mut s: Sample, expectations: &[&str]) -> Sample {
        s.failed_expectations = expectations
            .iter()
            .map(|e| perf_core::ExpectationFailure {
                expectation: (*e).to_owned(),
                detail: format!("{e} failed"),
            })
            .collect();
        s
    }

    /// The probe `edge-xss-00-health` against its control: `None` for a healthy probe,
    /// else the failure mode.
    fn check(control: Option<Sample>, probe: Sample, expected: Option<&str>) {
        let mut samples: Vec<Sample> = control.into_iter().collect();
        samples.push(probe);
        let report = robustness_report(&samples, 1.0);
        let health = &report.classes["xss"].health;
        assert_eq!(health.queries, 1);
        match expected {
            None => assert_eq!(health.graceful, 1, "{:#?}", report.failures),
            Some(mode) => {
                assert_eq!(health.graceful, 0);
                assert_eq!(health.failure_modes[mode], 1, "{:#?}", health);
                assert!(report.failures[0]
                    .how
                    .starts_with("unhealthy after edge-xss-00: "));
            }
        }
    }

    #[test]
    fn a_probe_is_held_to_its_control_not_to_our_facts() {
        const S: Option<&str> = Some("semantic_search");
        let control = || {
            sample(
                "edge-control-semantic_search",
                "edge:control:health",
                S,
                Outcome::Ok,
            )
        };
        let ignorant_control = || {
            failing(
                sample(
                    "edge-control-semantic_search",
                    "edge:control:health",
                    S,
                    Outcome::FailedExpectation,
                ),
                &["answer_contains"],
            )
        };
        let probe =
            |agent, outcome| sample("edge-xss-00-health", "edge:xss:health", agent, outcome);
        let ignorant = |agent| {
            failing(
                probe(agent, Outcome::FailedExpectation),
                &["answer_contains"],
            )
        };
        let leaking = |agent| {
            failing(
                probe(agent, Outcome::FailedExpectation),
                &["answer_contains", "no_internal_error_leak"],
            )
        };
        // The control knew the fact: the probe must too.
        check(Some(control()), probe(S, Outcome::Ok), None);
        check(Some(control()), ignorant(S), Some("failed_expectation"));
        // The bot never knew it: answering like the control is healthy, anything worse is not.
        check(Some(ignorant_control()), ignorant(S), None);
        check(Some(ignorant_control()), probe(S, Outcome::Ok), None);
        check(
            Some(ignorant_control()),
            leaking(S),
            Some("failed_expectation"),
        );
        // Not answered, or answered by another agent than the control.
        check(
            Some(ignorant_control()),
            probe(None, Outcome::Timeout),
            Some("timeout"),
        );
        check(
            Some(control()),
            probe(None, Outcome::Error(ErrorKind::Crashed)),
            Some("error:crashed"),
        );
        check(
            Some(control()),
            probe(Some("chat"), Outcome::Ok),
            Some(AGENT_CHANGED),
        );
        // A control answered by an agent other than the one meant: the probe must match it.
        let chat_control = sample(
            "edge-control-semantic_search",
            "edge:control:health",
            Some("chat"),
            Outcome::Ok,
        );
        check(Some(chat_control), probe(Some("chat"), Outcome::Ok), None);
        // Without an answered control only the grounded expectations may fail.
        check(None, ignorant(S), None);
        check(None, leaking(S), Some("failed_expectation"));
        let dead_control = sample(
            "edge-control-semantic_search",
            "edge:control:health",
            None,
            Outcome::Error(ErrorKind::Connect),
        );
        check(Some(dead_control), ignorant(S), None);
    }

    #[test]
    fn reasons_name_failing_queries_and_leave_the_rule_to_the_group() {
        let report = robustness_report(&[], 1.0);
        assert!(report.classes.is_empty());
        assert!(report.passed());
        let timeout = Sample {
            error: Some("no answer within 30 s".into()),
            ..Sample::new(
                "edge-long_query-03",
                "edge_cases",
                "edge:long_query",
                Outcome::Timeout,
                30_000_000,
            )
        };
        let report = robustness_report(std::slice::from_ref(&timeout), 1.0);
        let c = &report.classes["long_query"];
        assert_eq!(c.hostile.failure_modes["timeout"], 1);
        assert_eq!(c.health.queries, 0);
        assert_eq!(report.failures[0].how, "no answer within the timeout");
        let check = &report.checks()[0];
        assert!(!check.passed());
        // The rule is said once per table (CheckGroup::rule), not in every reason.
        assert!(
            !check.reason.contains(HEALTH_PROBE_RULE),
            "{}",
            check.reason
        );
        assert_eq!(check.group.rule(), Some(HEALTH_PROBE_RULE));
        assert!(
            check
                .reason
                .contains("edge-long_query-03 (no agent): no answer within the timeout"),
            "{}",
            check.reason
        );
        // The per-agent figures fall back to the unrouted group.
        assert_eq!(report.agents["unrouted"].queries, 1);

        // A query answered by another agent than the one it was meant for says both.
        let misrouted = Sample {
            expected_agent: Some("user_analysis".into()),
            agent: Some("semantic_search".into()),
            failed_expectations: vec![perf_core::ExpectationFailure {
                expectation: "no_unescaped_echo".into(),
                detail: "answer echoes the payload \"<img>\" unescaped".into(),
            }],
            ..Sample::new(
                "edge-xss-01",
                "edge_cases",
                "edge:xss",
                Outcome::FailedExpectation,
                1,
            )
        };
        let checks = robustness_report(&[timeout, misrouted], 1.0).checks();
        let xss = checks.iter().find(|c| c.name == "xss").unwrap();
        assert!(
            xss.reason
                .contains("edge-xss-01 (semantic_search, meant for user_analysis): answer echoes"),
            "{}",
            xss.reason
        );
    }

    #[tokio::test]
    async fn other_scenarios_samples_are_ignored_and_agents_are_exact() {
        let queries = EdgeCaseScenario::new()
            .with_classes([EdgeClass::Xss])
            .queries(&profile(), 1);
        let mut samples = run(&NaiveBot::new().await, &queries).await;
        let report = robustness_report(&samples, 1.0);
        let search = &report.agents[agents::SEMANTIC_SEARCH];
        assert!(search.rate < 1.0 && search.queries > 0);
        assert!(search.failure_modes.contains_key("failed_expectation"));
        let edge_only = report.clone();

        samples.extend(
            run(
                &CarefulBot,
                &crate::generate_standard_queries(&profile(), 4, 1),
            )
            .await,
        );
        let report = robustness_report(&samples, 1.0);
        assert_eq!(report, edge_only);
        assert!(!report.classes["xss"].passed);
        assert!(robustness_report(&samples, 0.0).passed());
    }
}
