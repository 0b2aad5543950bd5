use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use perf_core::{BotResponse, BotTarget, ErrorKind, Query, TargetError, TargetInfo, TokenSource};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::agents::{
    digest_generation, semantic_search, server_analysis, user_analysis, SearchRequest,
};
use crate::llm::token_pieces;
use crate::model::{plan_query, work_slowdown, wrong_answer};
use crate::route::{route, Directory, Named, Route};
use crate::text::{alnum_tokens, is_stop_word};
use crate::{plan_llm_query, RefBotConfig, RefBotError};

/// Connections in the read-only pool; each is a SQLite worker thread.
const POOL_CONNECTIONS: u32 = 8;
/// Search terms taken from one query.
const MAX_SEARCH_TERMS: usize = 12;
/// Distinct tokens of a query considered for search terms (bounds work on huge inputs).
const MAX_SCANNED_TOKENS: usize = 256;
/// Tables the bot reads.
const REQUIRED_TABLES: &[&str] = &["channels", "users", "messages", "reactions", "messages_fts"];
/// Lead-ins the naive mode strips before handing the rest of the text to FTS5 as is.
const NAIVE_LEAD_INS: &[&str] = &[
    "search for messages about ",
    "find discussions mentioning ",
    "what have people said about ",
    "find messages about ",
    "search for ",
    "find ",
];

/// The answer to an empty query.
const HELP_ANSWER: &str = "Hi! I answer questions about this server's messages. Try: \
    Which channel is the most active? / Search for messages about rust / \
    What does (a user name) usually talk about? / Summarize #general from the last 7 days.";
/// The answer when a search fails in normal mode; says nothing about why.
const SEARCH_FAILED_ANSWER: &str =
    "I could not search for that. Please try again with a few plain words.";
/// The error message of a failed agent in normal mode; says nothing about why.
const GENERIC_FAILURE: &str = "the bot could not answer this query (internal error)";
/// The error message of an injected fault.
const INJECTED_FAILURE: &str = "the bot failed to answer (injected fault)";

/// The reference bot: an agentic Discord-style bot over a SQLite message database.
///
/// Each query is routed to one of four agents (see `docs/refbot.md`), the agent does
/// real SQL work, and a seeded latency model stands in for the LLM calls of a real bot.
/// Cheap to share: wrap it in an `Arc` and call [`BotTarget::execute`] from many tasks.
#[derive(Debug)]
pub struct RefBot {
    core: Arc<Core>,
    /// The model slots of the LLM mode; `None` when it is off. Tokio's semaphore is fair,
    /// so queries get slots in the order they asked for them.
    slots: Option<Semaphore>,
}

/// What answering needs, shared with the blocking tasks of the LLM mode.
#[derive(Debug)]
struct Core {
    config: RefBotConfig,
    pool: SqlitePool,
    directory: Directory,
}

impl RefBot {
    /// Opens the message database at `config.database_path` read-only and loads the
    /// user and channel names used for routing.
    pub async fn open(config: RefBotConfig) -> Result<Self, RefBotError> {
        config.validate()?;
        let path = config.database_path.clone();
        if !path.is_file() {
            return Err(RefBotError::Schema {
                path,
                reason: "the file does not exist".to_owned(),
            });
        }
        let open_err = |source| RefBotError::Open {
            path: path.clone(),
            source,
        };
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let schema_err = |reason: String| RefBotError::Schema {
            path: path.clone(),
            reason,
        };
        for table in REQUIRED_TABLES {
            let found: Option<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE name = ?1")
                    .bind(table)
                    .fetch_optional(&pool)
                    .await
                    .map_err(|e| schema_err(format!("it cannot be read as SQLite ({e})")))?;
            if found.is_none() {
                return Err(schema_err(format!("table `{table}` is missing")));
            }
        }
        let load = |sql: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query_as::<_, (i64, String)>(sql)
                    .fetch_all(&pool)
                    .await
                    .map(|rows| {
                        rows.into_iter()
                            .map(|(id, name)| Named { id, name })
                            .collect::<Vec<_>>()
                    })
            }
        };
        let users = load("SELECT id, name FROM users ORDER BY id")
            .await
            .map_err(|e| schema_err(format!("its users cannot be read ({e})")))?;
        let channels = load("SELECT id, name FROM channels ORDER BY id")
            .await
            .map_err(|e| schema_err(format!("its channels cannot be read ({e})")))?;
        let slots = config
            .llm
            .as_ref()
            .map(|llm| Semaphore::new(llm.slots as usize));
        Ok(Self {
            core: Arc::new(Core {
                config,
                pool,
                directory: Directory::new(users, channels),
            }),
            slots,
        })
    }

    /// The configuration the bot was opened with.
    pub fn config(&self) -> &RefBotConfig {
        &self.core.config
    }

    /// The agent `text` would be routed to.
    pub fn route(&self, text: &str) -> &'static str {
        route(text, &self.core.directory).agent()
    }

    /// Answers `text` at once: routing and real work, without the latency model or
    /// fault injection. Returns the answer and the agent.
    pub async fn answer(&self, text: &str) -> Result<(String, &'static str), TargetError> {
        self.core.answer_in(text, None).await
    }

    /// Like [`answer`](Self::answer), for a query posted in `channel`: a digest that
    /// names no channel digests that one (when the bot knows it).
    pub async fn answer_in(
        &self,
        text: &str,
        channel: Option<&str>,
    ) -> Result<(String, &'static str), TargetError> {
        self.core.answer_in(text, channel).await
    }

    /// Answers `query` like [`BotTarget::execute`], handing each streamed token to
    /// `on_token` when it is sent. Only the LLM mode streams; otherwise the answer comes
    /// whole and `on_token` is never called.
    pub async fn execute_streaming(
        &self,
        query: &Query,
        on_token: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BotResponse, TargetError> {
        match &self.slots {
            Some(slots) => self.execute_llm(slots, query, on_token).await,
            None => self.execute_plain(query).await,
        }
    }

    /// The LLM mode: wait for a slot, work and prefill, then stream the tokens on
    /// deadlines counted from getting the slot (so no drift accumulates).
    async fn execute_llm(
        &self,
        slots: &Semaphore,
        query: &Query,
        on_token: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BotResponse, TargetError> {
        let start = Instant::now();
        let config = &self.core.config;
        let agent = self.route(&query.text);
        let faults = plan_query(config, agent, &query.id);
        let Some(plan) = plan_llm_query(config, agent, &query.id) else {
            return self.execute_plain(query).await;
        };
        if faults.hang {
            sleep_if_any(config.hang_duration).await;
        }
        let _slot = slots
            .acquire()
            .await
            .map_err(|_| TargetError::new(ErrorKind::Other, "the model slots were closed"))?;
        let slot_at = Instant::now();
        let first_at = slot_at + plan.time_to_first_token;
        if faults.error {
            tokio::time::sleep_until(first_at).await;
            return Err(TargetError::bot(INJECTED_FAILURE));
        }
        // The agent works during the prefill. On a blocking thread, so that a paused test
        // clock does not run ahead while SQLite works on its own threads: tokio does not
        // auto-advance while a blocking task runs.
        let core = Arc::clone(&self.core);
        let (text, channel) = (query.text.clone(), query.channel.clone());
        let work = tokio::task::spawn_blocking(move || {
            tokio::runtime::Handle::current()
                .block_on(async move { core.answer_in(&text, channel.as_deref()).await })
        });
        let (worked, ()) = tokio::join!(work, tokio::time::sleep_until(first_at));
        let (answer, agent) = worked.map_err(|e| {
            TargetError::new(ErrorKind::Other, format!("the agent task failed: {e}"))
        })??;
        let answer = if faults.wrong {
            wrong_answer(answer.chars().count())
        } else {
            answer
        };
        let pieces = token_pieces(&answer, plan.tokens);
        let mut first = None;
        let mut last = start;
        for (i, piece) in (0u64..).zip(&pieces) {
            tokio::time::sleep_until(slot_at + plan.token_at(i)).await;
            last = Instant::now();
            first.get_or_insert(last);
            on_token(piece);
        }
        let tokens = pieces.len() as u64;
        let mut response = BotResponse::new(answer, agent);
        response.time_to_first_token = first.map(|f| f - start);
        response.time_to_last_token = Some(last - start);
        response.stream_chunks = Some(tokens);
        response.completion_tokens = Some(tokens);
        response.token_source = Some(TokenSource::Reported);
        response.metadata = serde_json::json!({
            "llm": {
                "queue_ms": (slot_at - start).as_secs_f64() * 1e3,
                "planned_ttft_ms": plan.time_to_first_token.as_secs_f64() * 1e3,
                "token_gap_ms": plan.token_gap.as_secs_f64() * 1e3,
                "tokens": tokens,
            },
            "hung": faults.hang,
            "wrong": faults.wrong,
        });
        Ok(response)
    }

    /// The default mode: the seeded latency model around the real work.
    async fn execute_plain(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let config = &self.core.config;
        let agent = self.route(&query.text);
        let plan = plan_query(config, agent, &query.id);
        if plan.hang {
            sleep_if_any(config.hang_duration).await;
        }
        if plan.error {
            sleep_if_any(plan.model_latency).await;
            return Err(TargetError::bot(INJECTED_FAILURE));
        }
        let started = Instant::now();
        let (answer, agent) = self
            .core
            .answer_in(&query.text, query.channel.as_deref())
            .await?;
        let work = started.elapsed();
        let answer = if plan.wrong {
            wrong_answer(answer.chars().count())
        } else {
            answer
        };
        sleep_if_any(plan.model_latency + work_slowdown(config, work)).await;
        let mut response = BotResponse::new(answer, agent);
        response.metadata = serde_json::json!({
            "modelled_latency_ms": plan.model_latency.as_secs_f64() * 1e3,
            "work_ms": work.as_secs_f64() * 1e3,
            "hung": plan.hang,
            "wrong": plan.wrong,
        });
        Ok(response)
    }
}

impl Core {
    async fn answer_in(
        &self,
        text: &str,
        channel: Option<&str>,
    ) -> Result<(String, &'static str), TargetError> {
        let mut r = route(text, &self.directory);
        if let (
            Route::Digest {
                channel: c @ None, ..
            },
            Some(posted_in),
        ) = (&mut r, channel)
        {
            *c = self.directory.channel(posted_in).cloned();
        }
        let agent = r.agent();
        let body = self.run_agent(r, text).await?;
        let answer = if self.config.naive {
            format!("You asked: {text}\n{body}")
        } else {
            body
        };
        Ok((answer, agent))
    }

    async fn run_agent(&self, r: Route, text: &str) -> Result<String, TargetError> {
        let result = match &r {
            Route::Server => server_analysis(&self.pool).await,
            Route::User(user) => user_analysis(&self.pool, user).await,
            Route::Digest { channel, window } => {
                digest_generation(&self.pool, &self.directory, channel.as_ref(), *window).await
            }
            Route::Search => {
                let Some(req) = self.search_request(text) else {
                    return Ok(HELP_ANSWER.to_owned());
                };
                match semantic_search(&self.pool, &self.directory, &req).await {
                    Ok(a) => Ok(a),
                    Err(e) if self.config.naive => Ok(format!("Search failed: {e}")),
                    Err(e) => {
                        tracing::warn!(error = %e, "refbot search failed");
                        Ok(SEARCH_FAILED_ANSWER.to_owned())
                    }
                }
            }
        };
        result.or_else(|e| {
            if self.config.naive {
                Ok(format!("Something went wrong: {e}"))
            } else {
                tracing::warn!(error = %e, agent = r.agent(), "refbot agent failed");
                Err(TargetError::bot(GENERIC_FAILURE))
            }
        })
    }

    /// What to search for; `None` when the text has nothing to search for.
    fn search_request(&self, text: &str) -> Option<SearchRequest> {
        if self.config.naive {
            let topic = naive_topic(text);
            if topic.is_empty() {
                return None;
            }
            return Some(SearchRequest {
                match_expr: topic.clone(),
                terms: vec![topic],
                per_term: false,
            });
        }
        let tokens = alnum_tokens(text, MAX_SCANNED_TOKENS);
        let mut terms: Vec<String> = tokens
            .iter()
            .filter(|t| !is_stop_word(t) && t.chars().count() > 1)
            .take(MAX_SEARCH_TERMS)
            .cloned()
            .collect();
        if terms.is_empty() {
            terms = tokens.into_iter().take(MAX_SEARCH_TERMS).collect();
        }
        if terms.is_empty() {
            return None;
        }
        // Each term is letters and digits only, double-quoted: an FTS5 string, never
        // an operator, whatever the user typed.
        let match_expr = terms
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        Some(SearchRequest {
            match_expr,
            terms,
            per_term: true,
        })
    }
}

/// The naive mode's topic: the raw text minus a known lead-in and trailing punctuation.
fn naive_topic(text: &str) -> String {
    let t = text.trim();
    let rest = NAIVE_LEAD_INS
        .iter()
        .find_map(|p| {
            t.get(..p.len())
                .filter(|head| head.eq_ignore_ascii_case(p))
                .and_then(|_| t.get(p.len()..))
        })
        .unwrap_or(t);
    rest.trim_end_matches(['?', '.', '!']).trim().to_owned()
}

async fn sleep_if_any(d: Duration) {
    if !d.is_zero() {
        tokio::time::sleep(d).await;
    }
}

#[async_trait]
impl BotTarget for RefBot {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        self.execute_streaming(query, &mut |_| {}).await
    }

    async fn shutdown(&self) -> Result<(), TargetError> {
        self.core.pool.close().await;
        Ok(())
    }

    fn process_id(&self) -> Option<u32> {
        Some(std::process::id())
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo {
            // A different name in the LLM mode: its figures are not comparable with the
            // default mode's, so baselines keep them apart.
            name: if self.slots.is_some() {
                "refbot-llm".to_owned()
            } else {
                "refbot".to_owned()
            },
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            transport: perf_core::Transport::InProcess,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perf_core::agents;

    #[test]
    fn naive_topic_strips_lead_ins_only() {
        assert_eq!(naive_topic("Search for messages about rust"), "rust");
        assert_eq!(naive_topic("What have people said about tokio?"), "tokio");
        assert_eq!(naive_topic("\"a\" OR NEAR("), "\"a\" OR NEAR(");
        assert_eq!(naive_topic("  "), "");
        assert_eq!(naive_topic("fïnd x"), "fïnd x");
    }

    #[test]
    fn agent_names_are_the_standard_ones() {
        assert!(agents::ALL.contains(&Route::Search.agent()));
        assert!(agents::ALL.contains(&Route::Server.agent()));
    }
}
