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
    use crate::{EdgeCaseScenario, SCHEMA_SQL};

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

    use crate::testing::run_sequentially as run;

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
        assert!(good.checks().iter().all(|k| k.passed));
        assert!(good.agents_note.is_none());

        let naive = robustness_report(&run(&NaiveBot::new().await, &queries).await, 1.0);
        let c = &naive.classes[class.as_str()];
        assert!(!c.passed, "naive bot passed {class}");
        assert!(c.rate < 1.0);
        let check = naive
            .checks()
            .into_iter()
            .find(|k| k.name == class.as_str())
            .unwrap();
        assert!(!check.passed);
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
        assert!(!check.passed);
        assert!(
            check.reason.starts_with("1/12 graceful"),
            "{}",
            check.reason
        );
    }

    #[test]
    fn timeouts_and_empty_results_are_reported() {
        let mut r = RunResult::new("t", "", TargetInfo::default());
        assert!(robustness_report(&r, 1.0).classes.is_empty());
        assert!(robustness_report(&r, 1.0).agents_note.is_some());
        r.record(&Sample {
            error: Some("no answer within 30 s".into()),
            ..Sample::new(
                "edge-long_query-03",
                "edge_cases",
                "edge:long_query",
                Outcome::Timeout,
                30_000_000,
            )
        });
        let report = robustness_report(&r, 1.0);
        let c = &report.classes["long_query"];
        assert_eq!(c.hostile.failure_modes["timeout"], 1);
        assert_eq!(c.health.queries, 0);
        assert_eq!(report.failures[0].how, "no answer within the timeout");
        let check = &report.checks()[0];
        assert!(!check.passed);
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
        r.record(&Sample {
            query_id: "edge-xss-01".into(),
            category: "edge:xss".into(),
            expected_agent: Some("user_analysis".into()),
            agent: Some("semantic_search".into()),
            outcome: Outcome::FailedExpectation,
            failed_expectations: vec![perf_core::ExpectationFailure {
                expectation: "no_unescaped_echo".into(),
                detail: "answer echoes the payload \"<img>\" unescaped".into(),
            }],
            error: None,
            ..r.failure_examples[0].clone()
        });
        let checks = robustness_report(&r, 1.0).checks();
        let xss = checks.iter().find(|c| c.name == "xss").unwrap();
        assert!(
            xss.reason
                .contains("edge-xss-01 (semantic_search, meant for user_analysis): answer echoes"),
            "{}",
            xss.reason
        );
    }

    #[tokio::test]
    async fn per_agent_figures_need_an_edge_only_result() {
        let queries = EdgeCaseScenario::new()
            .with_classes([EdgeClass::Xss])
            .queries(&profile(), 1);
        let mut result = run(&NaiveBot::new().await, &queries).await;
        let report = robustness_report(&result, 1.0);
        assert!(report.agents_note.is_none());
        let search = &report.agents[agents::SEMANTIC_SEARCH];
        assert!(search.rate < 1.0 && search.queries > 0);
        assert!(search.failure_modes.contains_key("failed_expectation"));

        let other = run(
            &CarefulBot,
            &crate::generate_standard_queries(&profile(), 4, 1),
        )
        .await;
        result.merge(&other);
        let report = robustness_report(&result, 1.0);
        assert!(report.agents.is_empty());
        assert!(report.agents_note.is_some());
        assert!(!report.classes["xss"].passed);

        let lenient = robustness_report(&result, 0.0);
        assert!(lenient.passed());
    }
}
