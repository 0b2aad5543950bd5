//! `perf_targets::inspect`: one query shown whole, redacted, with clear errors for the
//! usual setup mistakes (issue #22).

use std::time::Duration;

use axum::routing::post;
use axum::{Json, Router};
use perf_targets::{inspect, HttpTargetConfig, Target, TargetSpec};
use serde_json::json;

use crate::support::{query, serve, serve_raw};

const SECRET: &str = "tok-inspect-0123456789";

fn http(url: String) -> Target {
    let mut c = HttpTargetConfig::new(url);
    c.headers.insert("x-api-key".into(), SECRET.into());
    c.headers.insert("x-client".into(), "perf".into());
    Target::Http(std::sync::Arc::new(
        perf_targets::HttpTarget::new(c).unwrap(),
    ))
}

fn assert_no_secret(i: &perf_targets::Inspection) {
    let all = format!("{i:?}");
    assert!(!all.contains(SECRET), "{all}");
}

#[tokio::test]
async fn an_answer_elsewhere_in_the_json_is_suggested_and_the_request_is_redacted() {
    let router = Router::new().route(
        "/chat",
        post(|| async {
            Json(
                json!({"reply": {"text": "Refunds take 5 business days.", "lang": "en"},
                        "route": "billing_desk", "echo": SECRET}),
            )
        }),
    );
    let addr = serve(router).await.unwrap();
    let t = http(format!("http://{addr}/chat?api_key={SECRET}"));
    let i = inspect(&t, &query("q1", "I want a refund"), Duration::from_secs(5)).await;
    assert_no_secret(&i);
    assert!(
        i.request_line.starts_with("POST http://") && i.request_line.contains("api_key=[redacted]"),
        "{}",
        i.request_line
    );
    assert!(
        i.request_headers
            .contains(&("x-api-key".into(), "[redacted]".into())),
        "{:?}",
        i.request_headers
    );
    assert!(i
        .request_headers
        .contains(&("x-client".into(), "perf".into())));
    assert!(
        i.request_body.contains("\"query\":\"I want a refund\""),
        "{}",
        i.request_body
    );
    assert_eq!(i.status, Some(200));
    assert!(i.response_body.contains("Refunds take 5") && i.response_body.contains("[redacted]"));
    assert!(!i.answered());
    assert!(
        i.answer.as_ref().unwrap_err().contains("/answer"),
        "{:?}",
        i.answer
    );
    assert_eq!(i.answer_pointer.as_deref(), Some("/answer"));
    assert_eq!(
        i.suggestion,
        Some((
            "/reply/text".to_owned(),
            "Refunds take 5 business days.".to_owned()
        ))
    );
    assert_eq!(i.agents[0], ("/metadata/agents_used".to_owned(), None));
    assert!(!i.streamed);
}

#[tokio::test]
async fn an_http_400_shows_status_and_body() {
    let router = Router::new().route(
        "/chat",
        post(|| async {
            (
                axum::http::StatusCode::BAD_REQUEST,
                Json(json!({"detail": "missing field `message` in the request body"})),
            )
        }),
    );
    let addr = serve(router).await.unwrap();
    let t = http(format!("http://{addr}/chat"));
    let i = inspect(&t, &query("q1", "hello"), Duration::from_secs(5)).await;
    assert_eq!(i.status, Some(400));
    assert!(
        i.response_body.contains("missing field `message`"),
        "{}",
        i.response_body
    );
    assert!(i.answer.unwrap_err().contains("HTTP status 400"));
}

#[tokio::test]
async fn a_resolved_answer_and_agent_pass() {
    let router = Router::new().route(
        "/chat",
        post(|| async { Json(json!({"answer": "hi!", "agent": "smalltalk"})) }),
    );
    let addr = serve(router).await.unwrap();
    let t = http(format!("http://{addr}/chat"));
    let i = inspect(&t, &query("q1", "hello"), Duration::from_secs(5)).await;
    assert_eq!(i.answer, Ok("hi!".to_owned()));
    assert!(
        i.agents
            .contains(&("/agent".to_owned(), Some("\"smalltalk\"".to_owned()))),
        "{:?}",
        i.agents
    );
    assert!(i.suggestion.is_none());
}

#[tokio::test]
async fn setup_mistakes_are_clear_errors_within_the_timeout() {
    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let i = inspect(
        &http(format!("http://127.0.0.1:{port}/chat")),
        &query("q", "hi"),
        Duration::from_secs(5),
    )
    .await;
    let e = i.answer.unwrap_err();
    assert!(
        e.contains("connect") && e.contains("is the bot running"),
        "{e}"
    );
    assert_eq!(i.status, None);

    // http:// to a TLS port.
    let pki = crate::tls::pki().unwrap();
    let tls = crate::tls::serve_tls(&pki, &[b"http/1.1"]).await.unwrap();
    // (This server waits for a handshake; others send an alert, which is not HTTP.)
    let i = inspect(
        &http(format!("http://127.0.0.1:{}/q", tls.port())),
        &query("q", "hi"),
        Duration::from_millis(500),
    )
    .await;
    let e = i.answer.unwrap_err();
    assert!(e.contains("use an https:// URL"), "{e}");

    // https:// to a plain port.
    let plain = serve_raw(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
        .await
        .unwrap();
    let i = inspect(
        &http(format!("https://localhost:{}/chat", plain.port())),
        &query("q", "hi"),
        Duration::from_millis(500),
    )
    .await;
    let e = i.answer.unwrap_err();
    assert!(e.contains("use an http:// URL"), "{e}");

    // A server that accepts and never answers: the timeout, said as such.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let i = inspect(
        &http(format!("http://{addr}/chat")),
        &query("q", "hi"),
        Duration::from_millis(300),
    )
    .await;
    let e = i.answer.unwrap_err();
    assert!(
        e.contains("within 300 ms") && e.contains("did not answer"),
        "{e}"
    );
}

#[tokio::test]
async fn a_command_target_shows_the_line_sent_and_the_line_received() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TargetSpec::parse_flag(
        r#"cmd:python3 -c "import sys,json
for l in sys.stdin:
    r=json.loads(l); print(json.dumps({'id': r['id'], 'reply': 'you said '+r['query']}), flush=True)""#,
    )
    .unwrap();
    let t = perf_targets::open_target(&spec, dir.path()).unwrap();
    let i = inspect(&t, &query("q7", "hello"), Duration::from_secs(10)).await;
    t.bot().shutdown().await.unwrap();
    assert!(
        i.request_body.contains("\"id\":\"q7\"") && i.request_body.contains("\"query\":\"hello\""),
        "{}",
        i.request_body
    );
    assert!(
        i.response_body.contains("you said hello"),
        "{}",
        i.response_body
    );
    assert!(i.answer.is_err(), "{:?}", i.answer);
    assert_eq!(i.suggestion.map(|s| s.0), Some("/reply".to_owned()));
}
