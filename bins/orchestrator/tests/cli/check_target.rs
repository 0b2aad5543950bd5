//! `orchestrator check-target` against a bot written here that answers every query with
//! HTTP 400 and a JSON error body echoing the request's authorization header (issue #22).

use std::io::{Read, Write};

use super::{orchestrator_env, stderr};

/// Serves, on a free loopback port, a bot answering every request with HTTP 400 and
/// `{"detail": ..., "echo": <authorization header>}`; returns its URL.
fn serve_400() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&seen).to_string();
            let auth = head
                .lines()
                .find_map(|l| l.strip_prefix("authorization: "))
                .unwrap_or("")
                .to_owned();
            let body = format!(
                r#"{{"detail": "missing field `message` in the request body", "echo": "{auth}"}}"#
            );
            let _ = write!(
                s,
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/chat")
}

#[test]
fn check_target_shows_the_status_and_body_of_a_400_and_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve_400();
    let token = "tok-check-target-5550123";
    std::fs::write(
        dir.path().join("suite.json"),
        format!(
            r#"{{"target": {{"type": "http", "url": "{url}", "auth_token_env": "CHECK_TARGET_TOKEN"}}}}"#
        ),
    )
    .unwrap();
    let out = orchestrator_env(
        dir.path(),
        &["--config", "suite.json", "check-target"],
        &[("CHECK_TARGET_TOKEN", token)],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("status 400"), "{stdout}");
    assert!(
        stdout.contains("missing field `message` in the request body"),
        "{stdout}"
    );
    assert!(stdout.contains("POST http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("authorization: [redacted]"), "{stdout}");
    assert!(stdout.contains(r#""query":"hello""#), "{stdout}");
    let all = format!("{stdout}{}", stderr(&out));
    assert!(!all.contains(token), "{all}");
    assert!(stderr(&out).contains("did not resolve"), "{}", stderr(&out));
    // Nothing written where it ran.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("suite.json")]);
}

#[test]
fn check_target_on_a_port_with_nothing_listening_exits_2_naming_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/chat");
    let out = orchestrator_env(dir.path(), &["--target", &url, "check-target"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout.contains("is the bot running"), "{stdout}");
}
