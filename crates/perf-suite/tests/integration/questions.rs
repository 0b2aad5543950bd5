//! Issue #22: a user's own bot, which knows nothing of the generated database and names
//! its agents its own way, judged on the user's own questions; and a bot that answers
//! every query with HTTP 400, which stops the run early with the status and the body.

use std::path::Path;

use perf_suite::{run_suite, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// How the test bot answers.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    /// A keyword router over four agents of its own.
    Router,
    /// HTTP 400 with a JSON error body, for every request.
    BadRequest,
}

/// The answer and agent of the keyword-routed bot.
fn route(query: &str) -> (String, &'static str) {
    let q = query.to_lowercase();
    if q.contains("refund") {
        (
            "Refunds take 5 business days. Your ticket is #4821.".to_owned(),
            "billing_desk",
        )
    } else if q.contains("weather") {
        ("Sunny today, 21 degrees.".to_owned(), "forecaster")
    } else if q.contains("json") {
        (r#"{"status": "ok", "count": 3}"#.to_owned(), "data_api")
    } else {
        ("Hello! I am HelpBot.".to_owned(), "smalltalk")
    }
}

/// Serves the test bot over HTTP/1.1 (keep-alive, `content-length` bodies) on a free
/// loopback port; returns its URL. The server ends with the test's runtime.
pub(crate) async fn serve(mode: Mode) -> String {
    serve_with(move |body| async move {
        match mode {
            Mode::BadRequest => (
                "400 Bad Request",
                serde_json::json!({"detail": "missing field `message` in the request body"}),
            ),
            Mode::Router => {
                let (answer, agent) = route(body["query"].as_str().unwrap_or_default());
                (
                    "200 OK",
                    serde_json::json!({"answer": answer, "agent": agent}),
                )
            }
        }
    })
    .await
}

/// Serves `answer` (from the JSON request body to a status line and a JSON reply) over
/// HTTP/1.1 on a free loopback port; returns its URL.
pub(crate) async fn serve_with<F, Fut>(answer: F) -> String
where
    F: Fn(serde_json::Value) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (&'static str, serde_json::Value)> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(connection(sock, answer.clone()));
        }
    });
    format!("http://{addr}/chat")
}

async fn connection<F, Fut>(mut sock: tokio::net::TcpStream, answer: F)
where
    F: Fn(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = (&'static str, serde_json::Value)>,
{
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: serde_json::Value =
            serde_json::from_slice(&buf[head_end..head_end + len]).unwrap_or_default();
        buf.drain(..head_end + len);
        let (status, reply) = answer(body).await;
        let reply = reply.to_string();
        let out = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        );
        if sock.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn config_for(dir: &Path, url: &str, questions: Option<&Path>) -> Config {
    let mut c = Config::small(dir);
    c.set_target_flag(url).unwrap();
    c.synthetic_testing.enabled = false;
    c.record_history = false;
    c.questions = questions.map(Path::to_owned);
    c
}

const MET: &str = concat!(
    r##"{"text": "I want a refund", "id": "refund", "category": "billing", "answer_contains": ["refund", "business days"], "answer_regex": "#\\d{4}"}"##,
    "\n",
    r#"{"text": "What's the weather like?", "id": "weather", "category": "weather", "answer_contains": "sunny"}"#,
    "\n",
    r#"{"text": "Give me the json status", "id": "status", "category": "data", "answer_json": {"pointer": "/count", "value": 3}}"#,
    "\n",
    r#"{"text": "hi there", "id": "hello", "category": "smalltalk"}"#,
    "\n",
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_own_questions_judge_a_users_own_bot() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(Mode::Router).await;

    // Expectations the bot meets: a pass, with the questions' categories as the paths.
    let met = dir.path().join("met.jsonl");
    std::fs::write(&met, MET).unwrap();
    let config = config_for(dir.path(), &url, Some(&met));
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert_eq!(r.overall.count, 4, "only the four questions ran");
    assert_eq!(r.overall.successes, 4);
    let (code, reasons) = perf_suite::exit_code_of(r);
    assert_eq!(code, 0, "{reasons:?}");
    let paths: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| c.group == perf_core::record::CheckGroup::CriticalPath)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(paths, ["billing", "weather", "data", "smalltalk"]);
    assert_eq!(r.per_agent["billing_desk"].count, 1);

    // The same bot, questions whose expectations it misses: a fail naming the question
    // and the expectation.
    let missed = dir.path().join("missed.csv");
    std::fs::write(
        &missed,
        "text,id,category,answer_contains,answer_json\n\
         I want a refund,refund-window,billing,within 30 days,\n\
         \"Give me the json status, please\",status-missing,data,,/total\n\
         hi there,hello,smalltalk,,\n",
    )
    .unwrap();
    let config = config_for(dir.path(), &url, Some(&missed));
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    let (code, _) = perf_suite::exit_code_of(r);
    assert_eq!(code, 1);
    let reason_of = |name: &str| {
        r.checks
            .iter()
            .find(|c| c.group == perf_core::record::CheckGroup::CriticalPath && c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {:?}", r.checks))
            .clone()
    };
    let billing = reason_of("billing");
    assert!(billing.failed());
    assert!(
        billing.reason.contains("\"refund-window\"")
            && billing.reason.contains("answer_contains")
            && billing.reason.contains("30 days"),
        "{}",
        billing.reason
    );
    let data = reason_of("data");
    assert!(
        data.failed()
            && data.reason.contains("\"status-missing\"")
            && data.reason.contains("answer_json")
            && data.reason.contains("/total"),
        "{}",
        data.reason
    );
    assert!(reason_of("smalltalk").passed());

    // Explicit critical paths are kept.
    let mut config = config_for(dir.path(), &url, Some(&met));
    config.regression_testing.critical_paths = vec!["smalltalk".to_owned()];
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let paths: Vec<&str> = outcome
        .result
        .checks
        .iter()
        .filter(|c| c.group == perf_core::record::CheckGroup::CriticalPath)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(paths, ["smalltalk"]);
}

#[tokio::test]
async fn a_bad_questions_file_stops_the_run_before_any_query() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"text\": \"a\", \"id\": \"x\"}\n{\"text\": \"b\", \"id\": \"x\"}\n",
    )
    .unwrap();
    // Nothing listens there: the file is refused before the target is tried.
    let config = config_for(dir.path(), "http://127.0.0.1:9/chat", Some(&bad));
    let e = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bad.jsonl:2") && e.contains("duplicate id \"x\""),
        "{e}"
    );
    assert!(!dir.path().join("reports").exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_answered_with_http_400_stops_the_run_early_with_status_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(Mode::BadRequest).await;
    let mut config = config_for(dir.path(), &url, None);
    config.query_count = 200;
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let r = &outcome.result;
    assert_eq!(outcome.problems.len(), 1, "{:?}", outcome.problems);
    let p = &outcome.problems[0];
    assert!(
        p.contains("HTTP status 400") && p.contains("missing field `message` in the request body"),
        "{p}"
    );
    assert!(p.contains("first 20 queries"), "{p}");
    // Stopped early: not all 200 were sent, and the reports hold what ran.
    assert!(
        r.overall.count >= 20 && r.overall.count < 200,
        "{}",
        r.overall.count
    );
    assert!(outcome.result_file().exists());
    let written = std::fs::read_to_string(outcome.result_file()).unwrap();
    assert!(
        written.contains("HTTP status 400"),
        "the note is in report.json"
    );
}
