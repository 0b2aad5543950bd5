//! HttpTarget against a local axum server and a raw TCP server.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream;
use perf_core::{BotTarget, ErrorKind};
use perf_targets::{Api, HttpTarget, HttpTargetConfig, HttpVersion, TargetsError, REDACTED};
use serde_json::{json, Value};

use crate::support::{query, serve, serve_raw};

const TOKEN: &str = "tok-5ecret-XYZ-123";

fn router() -> Router {
    Router::new()
        .route("/query", post(echo))
        .route("/status/{code}", post(status))
        .route("/slow", post(slow))
        .route("/notjson", post(|| async { "<html>oops</html>" }))
        .route(
            "/missing",
            post(|| async { Json(json!({"text": "no answer key"})) }),
        )
        .route(
            "/boterror",
            post(|| async { Json(json!({"error": "database is down"})) }),
        )
        .route(
            "/big",
            post(|| async { Json(json!({"answer": "x".repeat(300_000)})) }),
        )
        .route("/bigstream", post(big_stream))
        .route("/auth", post(auth))
        .route("/padded-echo", post(padded_echo))
        .route("/health", get(|| async { "ok" }))
        .route("/v1/chat/completions", post(completions))
        .route("/v1/halfway", post(halfway))
        .route("/v1/broken", post(broken))
        .route("/sse", post(plain_sse))
}

async fn echo(Json(body): Json<Value>) -> Json<Value> {
    let q = body["query"].as_str().unwrap_or_default();
    Json(json!({
        "answer": format!("echo: {q}"),
        "agent": "ignored_when_agents_used_is_set",
        "metadata": {"agents_used": ["semantic_search", "digest_generation"]},
        "seen": body,
    }))
}

async fn status(Path(code): Path<u16>) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT);
    (code, "backend exploded").into_response()
}

async fn slow() -> Json<Value> {
    tokio::time::sleep(Duration::from_secs(10)).await;
    Json(json!({"answer": "too late"}))
}

async fn big_stream() -> Response {
    // Chunked, no content length: the cap must stop the read midway.
    let chunks =
        stream::iter((0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 16_384]))));
    Body::from_stream(chunks).into_response()
}

async fn auth(headers: HeaderMap) -> Response {
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if sent == format!("Bearer {TOKEN}") {
        Json(json!({"answer": "welcome"})).into_response()
    } else {
        // Echo what was sent, as careless servers do.
        (StatusCode::FORBIDDEN, format!("bad credentials: {sent}")).into_response()
    }
}

/// A status error whose body quotes every request header after 250 bytes of padding: the
/// credential crosses the 256-character quote.
async fn padded_echo(headers: HeaderMap) -> Response {
    let mut text = "p".repeat(250);
    for (k, v) in &headers {
        text.push_str(&format!(" {k}: {}", v.to_str().unwrap_or_default()));
    }
    (StatusCode::INTERNAL_SERVER_ERROR, text).into_response()
}

fn sse_response(events: Vec<Result<String, std::io::Error>>, gap: Duration) -> Response {
    let body = stream::unfold(events.into_iter(), move |mut it| async move {
        let next = it.next()?;
        tokio::time::sleep(gap).await;
        Some((next.map(Bytes::from), it))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(body))
        .unwrap_or_default()
}

fn chunk(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]})
    )
}

async fn completions(Json(body): Json<Value>) -> Response {
    let text = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if body["stream"] != json!(true) {
        return Json(
            json!({"choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2}}),
        )
        .into_response();
    }
    let mut events = vec![Ok(format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"role": "assistant"}}],
               "metadata": {"agents_used": ["semantic_search"]}})
    ))];
    events.push(Ok(": keep-alive comment\n\n".to_owned()));
    for (i, word) in text.split(' ').enumerate() {
        let piece = if i == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        };
        events.push(Ok(chunk(&piece)));
    }
    events.push(Ok(format!(
        "data: {}\n\n",
        json!({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 4}})
    )));
    events.push(Ok("data: [DONE]\n\n".to_owned()));
    sse_response(events, Duration::from_millis(5))
}

async fn halfway() -> Response {
    sse_response(
        vec![Ok(chunk("one")), Ok(chunk(" two"))],
        Duration::from_millis(1),
    )
}

async fn broken() -> Response {
    sse_response(
        vec![Ok(chunk("one")), Err(std::io::Error::other("backend died"))],
        Duration::from_millis(1),
    )
}

async fn plain_sse() -> Response {
    sse_response(
        vec![
            Ok("data: alpha\n\n".to_owned()),
            Ok("data: beta\n\n".to_owned()),
        ],
        Duration::from_millis(1),
    )
}

async fn target_for(
    path: &str,
    edit: impl FnOnce(&mut HttpTargetConfig),
) -> anyhow::Result<HttpTarget> {
    let addr = serve(router()).await?;
    let mut config = HttpTargetConfig::new(format!("http://{addr}{path}"));
    edit(&mut config);
    Ok(HttpTarget::new(config)?)
}

#[tokio::test]
async fn json_round_trip_inserts_fields_and_extracts_agents() -> anyhow::Result<()> {
    let target = target_for("/query", |_| {}).await?;
    let mut q = query("q-7", "what did \"alice\" say?\n{\"x\":1}");
    q.user_id = Some("u1".to_owned());
    let r = target.execute(&q).await?;
    assert_eq!(r.answer, "echo: what did \"alice\" say?\n{\"x\":1}");
    assert_eq!(r.agents, ["semantic_search", "digest_generation"]);
    assert!(r.metadata["http"]["ttfb_us"].is_u64());
    let info = target.describe();
    assert_eq!(info.transport, perf_core::Transport::Http);
    assert!(info.name.ends_with("/query"));
    Ok(())
}

#[tokio::test]
async fn custom_template_and_pointers() -> anyhow::Result<()> {
    let target = target_for("/query", |c| {
        c.body = Some(json!({"query": "{{query}}", "ctx": {"who": "{{user_id}}", "where": "{{channel}}", "id": "{{id}}"}}));
        c.answer_pointer = Some("/seen/ctx/id".to_owned());
        c.agent_pointers = vec!["/nothing".to_owned(), "/agent".to_owned()];
    })
    .await?;
    let mut q = query("id-42", "hi");
    q.channel = Some("#general".to_owned());
    let r = target.execute(&q).await?;
    assert_eq!(r.answer, "id-42");
    assert_eq!(r.agents, ["ignored_when_agents_used_is_set"]);
    Ok(())
}

#[tokio::test]
async fn many_queries_in_flight_share_the_pool() -> anyhow::Result<()> {
    let target = std::sync::Arc::new(target_for("/query", |_| {}).await?);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let t = std::sync::Arc::clone(&target);
        tasks.push(tokio::spawn(async move {
            t.execute(&query(&format!("q{i}"), &format!("n{i}"))).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await??.answer, format!("echo: n{i}"));
    }
    Ok(())
}

#[tokio::test]
async fn http2_prior_knowledge_works() -> anyhow::Result<()> {
    let target = target_for("/query", |c| c.http_version = HttpVersion::Http2).await?;
    assert_eq!(target.execute(&query("a", "h2")).await?.answer, "echo: h2");
    Ok(())
}

async fn error_of(target: &HttpTarget) -> perf_core::TargetError {
    match target.execute(&query("e", "x")).await {
        Ok(r) => panic!("expected an error, got {r:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn statuses_are_status_errors_with_the_code() -> anyhow::Result<()> {
    for code in [400u16, 404, 429, 500, 503] {
        let target = target_for(&format!("/status/{code}"), |_| {}).await?;
        let e = error_of(&target).await;
        assert_eq!(e.kind, ErrorKind::Status);
        assert!(e.message.contains(&code.to_string()), "{e}");
        assert!(e.message.contains("backend exploded"), "{e}");
    }
    Ok(())
}

#[tokio::test]
async fn slow_answers_time_out() -> anyhow::Result<()> {
    let target = target_for("/slow", |c| c.timeout_ms = Some(200)).await?;
    assert_eq!(error_of(&target).await.kind, ErrorKind::Timeout);
    Ok(())
}

#[tokio::test]
async fn bad_bodies_are_invalid_responses() -> anyhow::Result<()> {
    for path in ["/notjson", "/missing"] {
        let target = target_for(path, |_| {}).await?;
        let e = error_of(&target).await;
        assert_eq!(e.kind, ErrorKind::InvalidResponse, "{path}: {e}");
    }
    let target = target_for("/boterror", |_| {}).await?;
    let e = error_of(&target).await;
    assert_eq!(e.kind, ErrorKind::Bot);
    assert_eq!(e.message, "database is down");
    Ok(())
}

#[tokio::test]
async fn truncated_bodies_are_invalid_responses() -> anyhow::Result<()> {
    let addr = serve_raw(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"answer\": \"cut",
    )
    .await?;
    let target = HttpTarget::new(HttpTargetConfig::new(format!("http://{addr}/q")))?;
    let e = error_of(&target).await;
    assert_eq!(e.kind, ErrorKind::InvalidResponse, "{e}");

    // Without a length the cut is only visible as JSON that does not parse.
    let addr = serve_raw(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{\"answer\": \"cut").await?;
    let target = HttpTarget::new(HttpTargetConfig::new(format!("http://{addr}/q")))?;
    assert_eq!(error_of(&target).await.kind, ErrorKind::InvalidResponse);

    // A closed port is a connect error.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let closed = listener.local_addr()?;
    drop(listener);
    let target = HttpTarget::new(HttpTargetConfig::new(format!("http://{closed}/q")))?;
    assert_eq!(error_of(&target).await.kind, ErrorKind::Connect);
    Ok(())
}

#[tokio::test]
async fn oversize_bodies_stop_at_the_cap() -> anyhow::Result<()> {
    let target = target_for("/big", |c| c.max_response_bytes = 100_000).await?;
    let e = error_of(&target).await;
    assert_eq!(e.kind, ErrorKind::InvalidResponse);
    assert!(e.message.contains("max_response_bytes"), "{e}");

    let target = target_for("/bigstream", |c| c.max_response_bytes = 100_000).await?;
    let e = error_of(&target).await;
    assert_eq!(e.kind, ErrorKind::InvalidResponse);
    assert!(e.message.contains("max_response_bytes"), "{e}");

    let target = target_for("/big", |_| {}).await?;
    assert_eq!(
        target.execute(&query("b", "x")).await?.answer.len(),
        300_000
    );
    Ok(())
}

#[tokio::test]
async fn openai_streaming_measures_tokens() -> anyhow::Result<()> {
    let target = target_for("/v1/chat/completions", |c| {
        c.api = Api::Openai;
        c.stream = true;
    })
    .await?;
    let r = target.execute(&query("s", "the quick brown fox")).await?;
    assert_eq!(r.answer, "the quick brown fox");
    assert_eq!(r.agents, ["semantic_search"]);
    assert_eq!(r.completion_tokens, Some(4));
    assert_eq!(r.prompt_tokens, Some(7));
    let ttft = r.time_to_first_token.unwrap_or_default();
    assert!(ttft > Duration::ZERO);
    let s = &r.metadata["stream"];
    assert_eq!(s["content_events"], json!(4));
    assert_eq!(s["inter_token_us"]["count"], json!(3));
    assert!(s["ttfb_us"].as_u64().unwrap_or(u64::MAX) <= s["ttft_us"].as_u64().unwrap_or(0));
    assert!(s["tokens_per_second"].as_f64().unwrap_or(0.0) > 0.0);

    let plain = target_for("/v1/chat/completions", |c| c.api = Api::Openai).await?;
    let r = plain.execute(&query("p", "not streamed")).await?;
    assert_eq!(r.answer, "not streamed");
    assert_eq!(r.completion_tokens, Some(2));
    Ok(())
}

#[tokio::test]
async fn streams_that_stop_halfway_are_errors() -> anyhow::Result<()> {
    for path in ["/v1/halfway", "/v1/broken"] {
        let target = target_for(path, |c| {
            c.api = Api::Openai;
            c.stream = true;
        })
        .await?;
        let e = error_of(&target).await;
        assert_eq!(e.kind, ErrorKind::InvalidResponse, "{path}: {e}");
        assert!(
            e.message.contains("1 tokens") || e.message.contains("2 tokens"),
            "{e}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn plain_sse_streams_concatenate_event_data() -> anyhow::Result<()> {
    let target = target_for("/sse", |c| c.stream = true).await?;
    let r = target.execute(&query("s", "x")).await?;
    assert_eq!(r.answer, "alphabeta");
    assert_eq!(r.completion_tokens, Some(2));
    Ok(())
}

#[tokio::test]
async fn the_auth_token_never_appears_in_output() -> anyhow::Result<()> {
    let var = "PERF_TARGETS_TEST_TOKEN_AUTH";
    std::env::set_var(var, TOKEN);
    let good = target_for("/auth", |c| c.auth_token_env = Some(var.to_owned())).await?;
    assert_eq!(good.execute(&query("a", "x")).await?.answer, "welcome");
    assert!(!format!("{good:?}").contains(TOKEN));
    assert!(format!("{good:?}").contains(REDACTED));
    assert!(!format!("{:?}", good.describe()).contains(TOKEN));

    // A server that echoes the credential into its error body.
    let echoing = target_for("/auth", |c| {
        c.auth_token_env = Some(var.to_owned());
        c.auth_scheme = "Token".to_owned();
    })
    .await?;
    let e = error_of(&echoing).await;
    assert_eq!(e.kind, ErrorKind::Status);
    assert!(!e.to_string().contains(TOKEN), "{e}");
    assert!(!format!("{e:?}").contains(TOKEN));
    assert!(e.message.contains(REDACTED), "{e}");

    let missing = HttpTargetConfig {
        auth_token_env: Some("PERF_TARGETS_TEST_TOKEN_UNSET".to_owned()),
        ..HttpTargetConfig::new("http://127.0.0.1:9/q")
    };
    match HttpTarget::new(missing) {
        Err(e @ TargetsError::MissingToken { .. }) => {
            assert!(e.to_string().contains("PERF_TARGETS_TEST_TOKEN_UNSET"));
        }
        other => panic!("expected MissingToken, got {other:?}"),
    }
    Ok(())
}

/// D1: a status error body is redacted before it is cut, so a token crossing the cut
/// leaves not even its first characters; the target's redactor knows every secret.
#[tokio::test]
async fn secrets_crossing_the_error_quote_are_removed_whole() -> anyhow::Result<()> {
    let var = "PERF_TARGETS_TEST_TOKEN_CUT";
    std::env::set_var(var, TOKEN);
    let t = target_for("/padded-echo?api_key=qv-0123456789", |c| {
        c.auth_token_env = Some(var.to_owned());
        c.auth_scheme = String::new();
        c.headers.insert("x-api-key".into(), "hv-0123456789".into());
    })
    .await?;
    let e = error_of(&t).await;
    assert_eq!(e.kind, ErrorKind::Status);
    for prefix in [&TOKEN[..8], "hv-01234"] {
        assert!(!e.message.contains(prefix), "{prefix} in {}", e.message);
    }
    let r = t.redactor();
    assert_eq!(
        r.redact(&format!("{TOKEN} qv-0123456789 hv-0123456789")),
        "[redacted] [redacted] [redacted]"
    );
    assert!(!t.describe().name.contains("qv-0123456789"));
    Ok(())
}

#[tokio::test]
async fn bad_configs_are_rejected() {
    let bad = |edit: fn(&mut HttpTargetConfig)| {
        let mut c = HttpTargetConfig::new("http://127.0.0.1:9/q");
        edit(&mut c);
        HttpTarget::new(c).is_err()
    };
    assert!(bad(|c| c.url = "not a url".to_owned()));
    assert!(bad(|c| c.url = "ftp://127.0.0.1/".to_owned()));
    assert!(bad(|c| c.url = "http://user:pw@127.0.0.1:9/q".to_owned()));
    assert!(bad(|c| c.body = Some(json!({"q": "no placeholder"}))));
    assert!(bad(|c| {
        c.headers.insert("bad header".to_owned(), "v".to_owned());
    }));
    assert!(bad(|c| c.timeout_ms = Some(0)));
    assert!(bad(|c| c.answer_pointer = Some("answer".to_owned())));
    assert!(bad(|c| c.agent_pointers = vec!["agent".to_owned()]));
    assert!(!bad(|_| {}));
}

#[tokio::test]
async fn a_pid_file_names_the_process_to_monitor() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bot.pid");
    let mut config = HttpTargetConfig::new("http://127.0.0.1:9/q");
    config.pid_file = Some(path.clone());
    let target = HttpTarget::new(config)?;
    assert_eq!(target.process_id(), None, "no file yet");
    std::fs::write(&path, format!("{}\n", std::process::id()))?;
    assert_eq!(target.process_id(), Some(std::process::id()));
    std::fs::write(&path, "garbage")?;
    assert_eq!(target.process_id(), None);
    assert_eq!(
        HttpTarget::new(HttpTargetConfig::new("http://127.0.0.1:9/q"))?.process_id(),
        None
    );
    Ok(())
}

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"answer\":\"ok\"}";
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"answer\":\"ok\"}";
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy";

fn get_target(addr: std::net::SocketAddr) -> anyhow::Result<HttpTarget> {
    let mut config = HttpTargetConfig::new(format!("http://{addr}/q"));
    config.method = "GET".to_owned();
    Ok(HttpTarget::new(config)?)
}

#[tokio::test]
async fn answered_connections_are_reused() -> anyhow::Result<()> {
    let (addr, connections) = crate::support::serve_script(vec![OK], false).await?;
    let target = std::sync::Arc::new(get_target(addr)?);
    for i in 0..20 {
        assert_eq!(
            target.execute(&query("s", &i.to_string())).await?.answer,
            "ok"
        );
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 1);
    for _ in 0..5 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let t = std::sync::Arc::clone(&target);
            tasks.push(tokio::spawn(async move {
                t.execute(&query("c", &i.to_string())).await
            }));
        }
        for task in tasks {
            assert_eq!(task.await??.answer, "ok");
        }
    }
    let n = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=8).contains(&n),
        "{n} connections for 8 concurrent users"
    );
    Ok(())
}

#[tokio::test]
async fn closed_connections_are_replaced_without_errors() -> anyhow::Result<()> {
    // The server says `connection: close` and closes.
    let (addr, connections) = crate::support::serve_script(vec![OK_CLOSE], true).await?;
    let target = get_target(addr)?;
    for i in 0..5 {
        assert_eq!(
            target.execute(&query("s", &i.to_string())).await?.answer,
            "ok"
        );
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 5);

    // The server closes an idle keep-alive connection without saying so beforehand.
    let (addr, connections) = crate::support::serve_script(vec![OK], true).await?;
    let target = get_target(addr)?;
    for i in 0..3 {
        assert_eq!(
            target.execute(&query("s", &i.to_string())).await?.answer,
            "ok"
        );
        // Time for the close to arrive; a request racing it is lost by any HTTP client.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    Ok(())
}

#[tokio::test]
async fn a_status_error_closes_its_connection_and_the_next_query_goes_on() -> anyhow::Result<()> {
    let (addr, connections) = crate::support::serve_script(vec![UNAVAILABLE, OK], false).await?;
    let target = get_target(addr)?;
    for round in 0..2 {
        let e = error_of(&target).await;
        assert_eq!(e.kind, ErrorKind::Status, "round {round}: {e}");
        assert!(
            e.message.contains("503") && e.message.contains("busy"),
            "{e}"
        );
        assert_eq!(target.execute(&query("s", "x")).await?.answer, "ok");
    }
    // The error's connection is closed (its body might not have been read to the end);
    // the answered one is reused for the next request.
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 3);
    Ok(())
}
