//! `refbot serve`: the bot behind HTTP.
//!
//! - `POST /query` with `{"query", "id", "user_id", "channel"}` answers
//!   `{"answer", "agent", "metadata": {"agents_used": [...]}}`; a bot-reported failure is
//!   `200 {"error": "..."}` (so an HTTP client can tell it from a server failure), any
//!   other failure `500 {"error": "...", "kind": "..."}`.
//! - `GET /health` answers `{"status": "ok"}`.
//! - `POST /v1/chat/completions` is OpenAI-compatible: the last user message is the query;
//!   with `"stream": true` the answer comes as server-sent events, one word per chunk,
//!   ending with `data: [DONE]`. `metadata.query_id` in the request, when a string, is the
//!   query's id.
//!
//! In the LLM mode (`--llm` or `llm` in the config) the chunks are the model's tokens,
//! sent when they are generated: the first at the query's time to first token (after its
//! wait for a model slot), the rest one token gap apart. `/query` and the non-streamed
//! completion answer after the last token, with `usage.completion_tokens`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use perf_core::{BotResponse, BotTarget, ErrorKind, Query, TargetError};
use perf_refbot::RefBot;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// `refbot serve`: the bot behind an HTTP server.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    bot: super::BotArgs,
    /// The address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Pause between streamed chat-completion chunks, in milliseconds (the LLM mode streams
    /// on its own token timing and ignores it).
    #[arg(long, default_value_t = 0)]
    token_delay_ms: u64,
    /// Append the bot's own time to first token of every streamed LLM-mode answer to FILE,
    /// one JSON line each (`{"query_id", "ttft_us"}`: from the request's arrival at the
    /// handler to its first token), to check a client's measurement against.
    #[arg(long, value_name = "FILE")]
    timing_log: Option<std::path::PathBuf>,
}

/// Runs `refbot serve` until Ctrl-C.
pub(crate) async fn main(args: ServeArgs) -> anyhow::Result<()> {
    let bot = Arc::new(args.bot.open().await?);
    bot.initialize()
        .await
        .map_err(|e| anyhow::anyhow!("refbot failed to start: {e}"))?;
    let timing_log = match &args.timing_log {
        Some(path) => Some(std::sync::Mutex::new(std::io::LineWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the timing log {}", path.display()))?,
        ))),
        None => None,
    };
    let options = ServeOptions {
        token_delay: Duration::from_millis(args.token_delay_ms),
    };
    let served = serve(Arc::clone(&bot), args.addr, options, timing_log, |bound| {
        // The first stdout line tells scripts and tests where to connect.
        println!("refbot: listening on http://{bound}");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    })
    .await;
    bot.shutdown().await.ok();
    served
}

/// How the HTTP server behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServeOptions {
    /// Pause between streamed chunks, to imitate token generation.
    pub(crate) token_delay: Duration,
}

struct AppState {
    bot: Arc<RefBot>,
    next_id: AtomicU64,
    options: ServeOptions,
    timing_log: Option<std::sync::Mutex<std::io::LineWriter<std::fs::File>>>,
}

impl AppState {
    /// Appends the bot's own time to first token of query `id` to the timing log, if any.
    fn log_ttft(&self, id: &str, ttft: Duration) {
        if let Some(log) = &self.timing_log {
            use std::io::Write as _;
            let line = json!({"query_id": id, "ttft_us": ttft.as_micros() as u64});
            let mut log = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = writeln!(log, "{line}");
        }
    }

    fn query(
        &self,
        text: String,
        id: Option<String>,
        user_id: Option<String>,
        channel: Option<String>,
    ) -> Query {
        let id =
            id.unwrap_or_else(|| format!("http-{}", self.next_id.fetch_add(1, Ordering::Relaxed)));
        let mut q = Query::new(id, text, "http");
        q.user_id = user_id;
        q.channel = channel;
        q
    }
}

/// Serves `bot` on `addr` until the process is stopped; `on_bound` gets the bound address
/// (useful with port 0).
pub(crate) async fn serve(
    bot: Arc<RefBot>,
    addr: SocketAddr,
    options: ServeOptions,
    timing_log: Option<std::sync::Mutex<std::io::LineWriter<std::fs::File>>>,
    on_bound: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}; is the port in use?"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    on_bound(bound);
    axum::serve(listener, router(bot, options, timing_log))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .with_context(|| format!("the HTTP server on {bound} failed"))
}

fn router(
    bot: Arc<RefBot>,
    options: ServeOptions,
    timing_log: Option<std::sync::Mutex<std::io::LineWriter<std::fs::File>>>,
) -> Router {
    let state = Arc::new(AppState {
        bot,
        next_id: AtomicU64::new(0),
        options,
        timing_log,
    });
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/query", post(query))
        .route("/v1/chat/completions", post(completions))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct QueryRequest {
    query: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

fn error_response(e: &TargetError) -> Response {
    if e.kind == ErrorKind::Bot {
        return Json(json!({"error": e.message})).into_response();
    }
    let status = if e.kind == ErrorKind::Timeout {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(json!({"error": e.message, "kind": e.kind}))).into_response()
}

async fn query(State(state): State<Arc<AppState>>, Json(req): Json<QueryRequest>) -> Response {
    let q = state.query(req.query, req.id, req.user_id, req.channel);
    match state.bot.execute(&q).await {
        Ok(r) => {
            let mut body = json!({
                "answer": r.answer,
                "agent": r.primary_agent(),
                "metadata": {"agents_used": r.agents},
            });
            if let Some(tokens) = r.completion_tokens {
                body["usage"] = json!({"completion_tokens": tokens});
            }
            Json(body).into_response()
        }
        Err(e) => error_response(&e),
    }
}

/// The text of the last user message: a string, or the text parts of a content array.
fn last_user_text(body: &Value) -> Option<String> {
    let messages = body.get("messages")?.as_array()?;
    let message = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))?;
    match message.get("content")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => Some(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

async fn completions(State(state): State<Arc<AppState>>, Json(body): Json<Value>) -> Response {
    let received = tokio::time::Instant::now();
    let Some(text) = last_user_text(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "no user message in `messages`", "type": "invalid_request_error"}})),
        )
            .into_response();
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("refbot")
        .to_owned();
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let user = body.get("user").and_then(Value::as_str).map(str::to_owned);
    // OpenAI's request `metadata` is a map of strings; `query_id` there names the query
    // (the LLM mode's plan is a function of it).
    let query_id = body
        .pointer("/metadata/query_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let q = state.query(text.clone(), query_id, user, None);
    let id = format!("chatcmpl-{}", q.id);
    if stream && state.bot.config().llm.is_some() {
        let prompt_tokens = words(&text);
        return llm_stream(
            &state,
            received,
            q,
            id,
            model,
            include_usage.then_some(prompt_tokens),
        )
        .await;
    }
    let result = state.bot.execute(&q).await;
    let response = match result {
        Ok(r) => r,
        Err(e) if e.kind == ErrorKind::Bot => {
            let error = json!({"error": {"message": e.message, "type": "bot_error"}});
            if stream {
                return sse(vec![error.to_string(), "[DONE]".to_owned()], Duration::ZERO);
            }
            return Json(error).into_response();
        }
        Err(e) => return error_response(&e),
    };
    let usage = usage(words(&text), &response);
    if !stream {
        return Json(json!({
            "id": id,
            "object": "chat.completion",
            "created": unix_now(),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response.answer}, "finish_reason": "stop"}],
            "usage": usage,
            "metadata": {"agents_used": response.agents},
        }))
        .into_response();
    }
    sse(
        stream_events(&id, &model, &response, include_usage.then_some(usage)),
        state.options.token_delay,
    )
}

/// The `usage` object: the bot's token count when it has one (LLM mode), else words.
fn usage(prompt_tokens: u64, response: &BotResponse) -> Value {
    let completion = response
        .completion_tokens
        .unwrap_or_else(|| words(&response.answer));
    json!({
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens.saturating_add(completion),
    })
}

/// What the answering task of a streamed LLM-mode completion reports.
enum Streamed {
    Token(String),
    Done(Result<BotResponse, TargetError>),
}

/// A streamed completion in the LLM mode: each token is a chunk, sent when the model
/// generates it. The status and headers wait for the first token (or the error), so a
/// failure before it still gets its proper status.
async fn llm_stream(
    state: &Arc<AppState>,
    received: tokio::time::Instant,
    q: Query,
    id: String,
    model: String,
    usage_prompt_tokens: Option<u64>,
) -> Response {
    // Unbounded, but never longer than one answer's tokens.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let bot = Arc::clone(&state.bot);
    let query_id = q.id.clone();
    tokio::spawn(async move {
        let tokens = tx.clone();
        let mut on_token = move |piece: &str| {
            let _ = tokens.send(Streamed::Token(piece.to_owned()));
        };
        let result = bot.execute_streaming(&q, &mut on_token).await;
        let _ = tx.send(Streamed::Done(result));
    });
    let created = unix_now();
    let chunk = move |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut pending = std::collections::VecDeque::new();
    match rx.recv().await {
        Some(Streamed::Token(piece)) => {
            state.log_ttft(&query_id, received.elapsed());
            pending.push_back(chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            ));
            pending.push_back(chunk(json!({"content": piece}), Value::Null));
        }
        Some(Streamed::Done(Err(e))) if e.kind != ErrorKind::Bot => return error_response(&e),
        Some(Streamed::Done(result)) => {
            // A bot error, or an answer without tokens: nothing to wait for.
            pending.extend(finish_events(&chunk, result, usage_prompt_tokens));
        }
        None => {
            return error_response(&TargetError::new(
                ErrorKind::Other,
                "the answering task stopped",
            ))
        }
    }
    let events = futures_util::stream::unfold(
        (rx, pending, false),
        move |(mut rx, mut pending, mut done)| {
            let chunk = chunk.clone();
            async move {
                loop {
                    if let Some(event) = pending.pop_front() {
                        let data = match event {
                            Value::String(s) => s,
                            v => v.to_string(),
                        };
                        let bytes = Bytes::from(format!("data: {data}\n\n"));
                        return Some((Ok::<_, Infallible>(bytes), (rx, pending, done)));
                    }
                    if done {
                        return None;
                    }
                    match rx.recv().await {
                        Some(Streamed::Token(piece)) => {
                            pending.push_back(chunk(json!({"content": piece}), Value::Null));
                        }
                        Some(Streamed::Done(result)) => {
                            pending.extend(finish_events(&chunk, result, usage_prompt_tokens));
                            done = true;
                        }
                        None => done = true,
                    }
                }
            }
        },
    );
    event_stream_response(Body::from_stream(events))
}

/// The events after the last token: the finish reason and the usage (when asked for), or
/// the error, then `[DONE]`.
fn finish_events(
    chunk: &impl Fn(Value, Value) -> Value,
    result: Result<BotResponse, TargetError>,
    usage_prompt_tokens: Option<u64>,
) -> Vec<Value> {
    let mut events = Vec::new();
    match result {
        Ok(r) => {
            let mut stop = chunk(json!({}), json!("stop"));
            stop["metadata"] = json!({"agents_used": r.agents});
            events.push(stop);
            if let Some(prompt) = usage_prompt_tokens {
                let mut last = chunk(json!({}), Value::Null);
                last["choices"] = json!([]);
                last["usage"] = usage(prompt, &r);
                events.push(last);
            }
        }
        Err(e) => {
            let kind = if e.kind == ErrorKind::Bot {
                "bot_error"
            } else {
                "server_error"
            };
            events.push(json!({"error": {"message": e.message, "type": kind}}));
        }
    }
    events.push(Value::String("[DONE]".to_owned()));
    events
}

/// The chunks of a streamed completion: the role and agents, one word each, the finish
/// reason, the usage when asked for, and `[DONE]`.
fn stream_events(
    id: &str,
    model: &str,
    response: &BotResponse,
    usage: Option<Value>,
) -> Vec<String> {
    let created = unix_now();
    let chunk = |delta: Value, finish: Value| {
        json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut first = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    first["metadata"] = json!({"agents_used": response.agents});
    let mut events = vec![first.to_string()];
    for word in word_chunks(&response.answer) {
        events.push(chunk(json!({"content": word}), Value::Null).to_string());
    }
    events.push(chunk(json!({}), json!("stop")).to_string());
    if let Some(usage) = usage {
        events.push(
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [], "usage": usage})
            .to_string(),
        );
    }
    events.push("[DONE]".to_owned());
    events
}

/// `text` cut before every word but the first; whitespace stays with the word before it,
/// so the chunks rejoin into `text` exactly.
fn word_chunks(text: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut prev_ws = false;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if !ws && prev_ws && text[start..i].chars().any(|c| !c.is_whitespace()) {
            chunks.push(&text[start..i]);
            start = i;
        }
        prev_ws = ws;
    }
    if start < text.len() {
        chunks.push(&text[start..]);
    }
    chunks
}

fn sse(events: Vec<String>, delay: Duration) -> Response {
    let stream = futures_util::stream::unfold(
        (events.into_iter(), true),
        move |(mut it, first)| async move {
            let data = it.next()?;
            if !first && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Some((
                Ok::<_, Infallible>(Bytes::from(format!("data: {data}\n\n"))),
                (it, false),
            ))
        },
    );
    event_stream_response(Body::from_stream(stream))
}

fn event_stream_response(body: Body) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_words_that_rejoin_into_the_answer() {
        let r = BotResponse::new("three  little words\n", "semantic_search");
        let events = stream_events("c1", "refbot", &r, Some(json!({"completion_tokens": 3})));
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let mut text = String::new();
        for e in &events[..events.len() - 1] {
            let v: Value = serde_json::from_str(e).unwrap_or_default();
            if let Some(s) = v
                .pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
            {
                text.push_str(s);
            }
        }
        assert_eq!(text, r.answer);
        assert!(events[0].contains("semantic_search"));
    }

    #[test]
    fn cuts_before_words() {
        assert_eq!(
            word_chunks("  hi  there\n you"),
            ["  hi  ", "there\n ", "you"]
        );
        assert_eq!(word_chunks(""), Vec::<&str>::new());
        assert_eq!(word_chunks("one"), ["one"]);
    }

    #[test]
    fn finds_the_last_user_message() {
        let body = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        ]});
        assert_eq!(last_user_text(&body).as_deref(), Some("a b"));
        assert_eq!(last_user_text(&json!({"messages": []})), None);
        assert_eq!(last_user_text(&json!({})), None);
    }
}
