//! Hostile bots through the whole binary: secrets a bot echoes reach no output (D1, D9),
//! and megabyte strings leave bounded files (D5).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

const TOKEN: &str = "tok-Zq8Xw3Lm9Pv2Rt7Y";
const QUERY_KEY: &str = "qk-Hs6Df1Gj4Kl0Mn5B";
const HEADER_KEY: &str = "hk-Vb3Nm8Qw2Er6Ty1U";
const OPT_IN: &str = "oi-Wc5Xe7Rd9Tf1Gy3H";
const PASSWORD: &str = "pw-Ju7Ik9Ol3Pa5Sd2F";
const TOKEN_VAR: &str = "PERF_HOSTILE_BOT_TOKEN";

/// Serves `app` on a loopback port from a thread of its own (the test process outlives it).
pub(crate) fn spawn_server(app: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Everything the bot was sent: the request line's URI and every header.
fn seen(uri: &Uri, headers: &HeaderMap) -> String {
    let mut text = format!("uri {uri};");
    for (k, v) in headers {
        text.push_str(&format!(" {k}: {};", v.to_str().unwrap_or("?")));
    }
    text
}

/// Echoes what it was sent into a padded status error body (the credential crosses the
/// old 256-byte cut), a bot error, or an answer and agent name, in turn.
async fn echo(State(n): State<Arc<AtomicU64>>, uri: Uri, headers: HeaderMap) -> Response {
    let i = n.fetch_add(1, Ordering::Relaxed);
    let seen = seen(&uri, &headers);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    match i % 4 {
        0 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}{seen}", "p".repeat(240)),
        )
            .into_response(),
        1 => Json(json!({"error": seen})).into_response(),
        _ => Json(json!({"answer": seen, "agent": format!("{auth} #{}", i % 3)})).into_response(),
    }
}

fn orchestrator(dir: &Path, args: &[&str]) -> Output {
    crate::common::orchestrator_env(dir, args, &[(TOKEN_VAR, TOKEN)])
}

pub(crate) fn small_config(dir: &Path, target: Value, query_count: usize) -> PathBuf {
    let config = json!({
        "database_path": "data/messages.db",
        "output_dir": "reports",
        "history_path": "data/history.db",
        "query_count": query_count,
        "save_intermediate_results": true,
        "query_timeout": 10,
        "fixture": {"messages": 1500},
        "parallel_execution": {"rate_limit_per_second": null},
        "synthetic_testing": {"scale": 0.005},
        "resource_monitoring": {"monitoring_interval": 0.5},
        "performance_baselines": {"baselines_dir": "baselines", "auto_update_baselines": true},
        "target": target,
    });
    let path = dir.join("suite.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    path
}

/// Every file under `dir`, recursively.
pub(crate) fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Asserts that no secret of the HTTP bot, nor its first 8 characters, is in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    assert_none_of(
        &[TOKEN, QUERY_KEY, HEADER_KEY, OPT_IN, PASSWORD],
        what,
        bytes,
    );
}

/// Asserts that none of `secrets`, nor their first 8 characters, is in `bytes`.
fn assert_none_of(secrets: &[&str], what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for secret in secrets {
        let prefix = &secret[..8];
        if let Some(at) = text.find(prefix) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            let to = (at + 80).min(text.len());
            panic!(
                "{prefix}… of a secret is in {what}: {:?}",
                text.get(from..to).unwrap_or("")
            );
        }
    }
}

/// The test the issue asks for: a bot that echoes its request headers, URL and query
/// string into answers, agent names and error bodies, run through the orchestrator with
/// `auth_token_env`, `?api_key=`, a header secret by name and one by `secret_headers`:
/// no output file, history byte or line of stdout/stderr holds a secret. A URL with a
/// password fails at start-up without showing it.
#[test]
fn secrets_a_bot_echoes_reach_no_output() {
    let addr = spawn_server(
        Router::new()
            .route("/query", post(echo))
            .with_state(Arc::new(AtomicU64::new(0))),
    );
    let dir = tempfile::tempdir().unwrap();
    small_config(
        dir.path(),
        json!({
            "type": "http",
            "url": format!("http://{addr}/query?api_key={QUERY_KEY}&plain=1"),
            "auth_token_env": TOKEN_VAR,
            "headers": {"x-api-key": HEADER_KEY, "x-tenant": OPT_IN},
            "secret_headers": ["x-tenant"],
        }),
        24,
    );
    let out = orchestrator(dir.path(), &["--config", "suite.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);

    // Every file the run wrote (the config it was given holds the secrets, of course).
    let written: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with("suite.json"))
        .collect();
    // The echoes did arrive, redacted: in answers, errors and agent names alike
    // (summary.md shows per-agent rows only for runs without critical paths).
    let report = redacted_in_every_output(
        &written,
        assert_clean,
        &[
            "samples.jsonl",
            "report.json",
            "report.html",
            "junit.xml",
            "history.db",
        ],
    );
    let url = report["config"]["target"]["url"]
        .as_str()
        .unwrap_or_default();
    assert!(
        url.ends_with("/query?api_key=[redacted]&plain=[redacted]"),
        "{url}"
    );
    assert_eq!(
        report["config"]["target"]["headers"]["x-tenant"],
        "[redacted]"
    );

    // A password in the URL: refused at start-up, and not shown.
    let dir = tempfile::tempdir().unwrap();
    small_config(
        dir.path(),
        json!({"type": "http", "url": format!("http://user:{PASSWORD}@{addr}/query")}),
        4,
    );
    let out = orchestrator(dir.path(), &["--config", "suite.json"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("[redacted]@"));
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    for f in files(dir.path())
        .iter()
        .filter(|p| !p.ends_with("suite.json"))
    {
        assert_clean(&f.display().to_string(), &std::fs::read(f).unwrap());
    }
    let out = orchestrator(
        dir.path(),
        &[
            "--target",
            &format!("ftp://user:{PASSWORD}@{addr}/?api_key={QUERY_KEY}"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_clean("stderr", &out.stderr);
}

/// A bot sending a new 100 KB agent name with every answer and 3 MB error bodies.
async fn huge(State(n): State<Arc<AtomicU64>>) -> Response {
    let i = n.fetch_add(1, Ordering::Relaxed);
    match i % 3 {
        0 => (StatusCode::BAD_GATEWAY, "e".repeat(3 << 20)).into_response(),
        1 => Json(json!({"error": format!("{i} {}", "b".repeat(3 << 20))})).into_response(),
        _ => Json(json!({
            "answer": "a".repeat(100_000),
            "agent": format!("{i:06}{}", "n".repeat(100_000)),
        }))
        .into_response(),
    }
}

/// D5: 400 queries with unique 100 KB agent names and 3 MB error bodies: every file stays
/// small, agents past 100 are folded into `other` and counted.
#[test]
fn megabyte_strings_from_a_bot_leave_bounded_files() {
    let addr = spawn_server(
        Router::new()
            .route("/query", post(huge))
            .with_state(Arc::new(AtomicU64::new(0))),
    );
    let dir = tempfile::tempdir().unwrap();
    small_config(
        dir.path(),
        json!({"type": "http", "url": format!("http://{addr}/query")}),
        400,
    );
    let out = orchestrator(dir.path(), &["--config", "suite.json", "--quiet"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(out.stdout.len() + out.stderr.len() < 200_000);

    let written = files(dir.path());
    let find = |name: &str| {
        written
            .iter()
            .find(|p| p.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("no {name} in {written:?}"))
            .clone()
    };
    let samples = std::fs::read_to_string(find("samples.jsonl")).unwrap();
    let lines = samples.lines().count();
    assert!(lines >= 400, "{lines} samples");
    let longest = samples.lines().map(str::len).max().unwrap_or(0);
    // Error 1,000 + agent 100 + excerpt 300 characters, plus the fixed fields.
    assert!(longest < 6_000, "a samples.jsonl line of {longest} bytes");
    for f in &written {
        let size = std::fs::metadata(f).unwrap().len();
        // The sizes docs/limits.md quotes (`--nocapture` shows them).
        eprintln!(
            "{size:>10} {}",
            f.strip_prefix(dir.path()).unwrap_or(f).display()
        );
        // The message database is the fixture's, not the bot's.
        if f.file_name().is_some_and(|n| n == "messages.db") {
            continue;
        }
        assert!(size < 4 << 20, "{} is {size} bytes", f.display());
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(find("report.json")).unwrap()).unwrap();
    let agents = report["per_agent"].as_object().unwrap();
    // 100 tracked names, `other`, and the expected agents of unanswered queries.
    assert!(agents.len() <= 100 + 1 + 10, "{} agents", agents.len());
    assert!(agents.contains_key("other"));
    let folded = report["folded"]["agents"].as_u64().unwrap_or(0);
    assert!(folded >= 30, "folded {folded}");
    assert!(agents.keys().all(|k| k.chars().count() <= 101));
    let notes = report["notes"].to_string();
    assert!(notes.contains("counted under `other`"), "{notes}");
}

const ENV_KEY: &str = "ek-Pq4Wr8Ty2Ui6Op0A";
const ENV_SECRET: &str = "es-Lk3Jh7Gf1Ds5Az9X";
const OPT_IN_ENV: &str = "oe-Mn2Bv6Cx0Za4Sd8F";
const INHERITED: &str = "ih-Rt5Yu9Io3Pl7Kj1H";
const INHERITED_VAR: &str = "PERF_HOSTILE_INHERITED_TOKEN";

/// Asserts that none of the command bot's secrets, nor their first 8 characters, is in
/// `bytes`.
fn assert_env_clean(what: &str, bytes: &[u8]) {
    assert_none_of(&[ENV_KEY, ENV_SECRET, OPT_IN_ENV, INHERITED], what, bytes);
}

/// Reads `path` from the live view on `port` until the server closes the connection (or
/// `deadline` passes), for the streaming endpoints; retries until the server is up.
pub(crate) fn read_live(port: u16, path: &str, deadline: std::time::Instant) -> Vec<u8> {
    use std::io::{Read as _, Write as _};
    loop {
        if std::time::Instant::now() > deadline {
            return Vec::new();
        }
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        if s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .is_err()
        {
            continue;
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        while std::time::Instant::now() < deadline {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => break,
            }
        }
        return out;
    }
}

/// Issue #28, item 1: a `cmd:` bot echoing the secret values of its `env` (by name, by
/// `secret_env`) and of a secret-named variable it inherits from the harness, into its
/// answers, agent names, errors and stderr: no output file, history byte, line of
/// stdout/stderr, nor any of the live view's `/metrics`, `/events` and `/stream` holds one.
#[test]
fn secrets_a_command_bot_echoes_reach_no_output() {
    let dir = tempfile::tempdir().unwrap();
    // JSON lines: read a query, answer with every secret in the answer and the agent name,
    // or as a bot error, in turn; and tell stderr too.
    let script = r#"n=0
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed 's/^{"id":"\([^"]*\)".*/\1/')
  seen="k=$OPENAI_API_KEY s=$MY_SECRET o=$BOT_TENANT i=$PERF_HOSTILE_INHERITED_TOKEN"
  echo "handling $id with $seen" >&2
  n=$((n+1))
  if [ $((n % 3)) -eq 0 ]; then
    printf '{"id":"%s","answer":null,"agent":null,"error":"failed: %s"}\n' "$id" "$seen"
  else
    printf '{"id":"%s","answer":"I know %s","agent":"%s #%s","error":null}\n' "$id" "$seen" "$MY_SECRET" "$((n % 2))"
  fi
done
"#;
    std::fs::write(dir.path().join("echo_bot.sh"), script).unwrap();
    small_config(
        dir.path(),
        json!({
            "type": "command",
            "command": ["sh", "echo_bot.sh"],
            "env": {"OPENAI_API_KEY": ENV_KEY, "MY_SECRET": ENV_SECRET, "BOT_TENANT": OPT_IN_ENV},
            "secret_env": ["BOT_TENANT"],
        }),
        24,
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let live = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "--config",
            "suite.json",
            "--live",
            &live,
            "--live-linger",
            "1",
        ])
        .current_dir(dir.path())
        .env(INHERITED_VAR, INHERITED)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let events = std::thread::spawn(move || read_live(port, "/events", deadline));
    let stream = std::thread::spawn(move || read_live(port, "/stream", deadline));
    let mut metrics = Vec::new();
    let scrapes = std::thread::spawn(move || {
        // Until the server goes away after the linger.
        let mut seen_up = false;
        while std::time::Instant::now() < deadline {
            let body = read_live(
                port,
                "/metrics",
                deadline.min(std::time::Instant::now() + std::time::Duration::from_secs(2)),
            );
            if body.is_empty() {
                if seen_up {
                    break;
                }
            } else {
                seen_up = true;
                metrics.extend_from_slice(&body);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        metrics
    });
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert_env_clean("stdout", &out.stdout);
    assert_env_clean("stderr", &out.stderr);
    let (events, stream, metrics) = (
        events.join().unwrap(),
        stream.join().unwrap(),
        scrapes.join().unwrap(),
    );
    for (what, body) in [
        ("/events", &events),
        ("/stream", &stream),
        ("/metrics", &metrics),
    ] {
        assert!(!body.is_empty(), "nothing read from {what}");
        assert_env_clean(what, body);
    }
    assert!(
        String::from_utf8_lossy(&metrics).contains("[redacted] #"),
        "the redacted agent name is not in /metrics"
    );

    let written: Vec<PathBuf> = files(dir.path())
        .into_iter()
        .filter(|p| !p.ends_with("suite.json") && !p.ends_with("echo_bot.sh"))
        .collect();
    let report = redacted_in_every_output(
        &written,
        assert_env_clean,
        &[
            "samples.jsonl",
            "report.json",
            "report.html",
            "junit.xml",
            "history.db",
            "bot-stderr.log",
        ],
    );
    let env = &report["config"]["target"]["env"];
    for var in ["OPENAI_API_KEY", "MY_SECRET", "BOT_TENANT"] {
        assert_eq!(env[var], "[redacted]", "{env}");
    }
}

/// Checks every written file with `clean`, asserts that each file named in `expected`
/// holds a redacted echo and that the per-agent table names a redacted agent; returns
/// report.json.
fn redacted_in_every_output(
    written: &[PathBuf],
    clean: impl Fn(&str, &[u8]),
    expected: &[&str],
) -> Value {
    let mut redacted_in = Vec::new();
    for f in written {
        let bytes = std::fs::read(f).unwrap();
        clean(&f.display().to_string(), &bytes);
        if String::from_utf8_lossy(&bytes).contains("[redacted]") {
            redacted_in.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    for name in expected {
        assert!(
            redacted_in.iter().any(|n| n == name),
            "no redacted echo in {name}: {redacted_in:?} of {written:?}"
        );
    }
    let report = written
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "report.json"))
        .unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    assert!(
        report["per_agent"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("[redacted] #")),
        "{}",
        report["per_agent"]
    );
    report
}
