//! What the orchestrator's test binaries share: running the binary, finding the `refbot`
//! binary beside it, reading output, and a port nothing listens on.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub(crate) const ORCHESTRATOR: &str = env!("CARGO_BIN_EXE_orchestrator");

/// Runs the orchestrator in `dir` with `args` and extra environment `env`.
pub(crate) fn orchestrator_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(ORCHESTRATOR)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs the orchestrator in `dir` with `args`.
pub(crate) fn orchestrator(dir: &Path, args: &[&str]) -> Output {
    orchestrator_env(dir, args, &[])
}

/// The process's stderr as text.
pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The process's stdout and stderr as one text.
pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `refbot` binary built beside the orchestrator (`cargo test --workspace` builds it).
pub(crate) fn refbot_binary() -> PathBuf {
    let path =
        Path::new(ORCHESTRATOR).with_file_name(format!("refbot{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p refbot` (cargo test --workspace does)",
        path.display()
    );
    path
}

/// A loopback port that was free a moment ago, so nothing listens on it.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
