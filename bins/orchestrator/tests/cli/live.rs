//! The live view cannot starve the run of file descriptors (issue #28, item 3).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::watch;

use super::hostile::{files, small_config, spawn_server};

/// Idle clients opened against the live port: more than the run's whole descriptor limit.
const CLIENTS: usize = 300;
/// The run's soft descriptor limit (`ulimit -n`).
const NOFILE: usize = 256;

/// Answers once the test opens the gate, so the run is still going while the clients
/// connect.
async fn held(State(gate): State<watch::Receiver<bool>>) -> Json<Value> {
    let mut gate = gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    Json(json!({"answer": "held", "agent": "search"}))
}

/// The run under `ulimit -n 256` with 300 idle clients on its live port still writes
/// report.json and exits by its verdict: the live view keeps to its share of descriptors
/// (before, it took them all and the run failed writing its reports, exit 2).
#[test]
fn idle_live_clients_cannot_take_the_descriptors_the_run_needs() {
    let (open, gate) = watch::channel(false);
    let bot = spawn_server(Router::new().route("/query", post(held)).with_state(gate));
    let dir = tempfile::tempdir().unwrap();
    small_config(
        dir.path(),
        json!({"type": "http", "url": format!("http://{bot}/query")}),
        12,
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["--config", "suite.json", "--live", "127.0.0.1:0"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let addr: SocketAddr = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            let _ = child.kill();
            panic!("the run ended before it printed the live view's address: {seen}");
        }
        seen.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("live view: http://") {
            let addr = url.split('/').next().unwrap();
            break addr.parse().unwrap();
        }
    };
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    });

    let clients: Vec<TcpStream> = (0..CLIENTS)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
        .collect();
    assert!(
        clients.len() > NOFILE,
        "only {} clients connected",
        clients.len()
    );
    open.send_replace(true);

    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end in 300 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(clients);
    seen.push_str(&drain.join().unwrap());
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "{status:?}, not a verdict: {seen}"
    );
    assert!(
        files(&dir.path().join("reports"))
            .iter()
            .any(|p| p.ends_with("report.json")),
        "no report.json: {seen}"
    );
}
