//! The `refbot` binary on every transport: HTTP (JSON, OpenAI-compatible SSE) and JSON lines.

mod e2e;
mod llm;
mod transports;

use std::path::{Path, PathBuf};

use perf_refbot::{RefBot, RefBotConfig};
use perf_synth::FixtureConfig;
use tempfile::TempDir;

/// The binary under test.
pub(crate) const REFBOT: &str = env!("CARGO_BIN_EXE_refbot");

/// A generated message database in a temporary directory.
pub(crate) struct Fixture {
    _dir: TempDir,
    pub(crate) path: PathBuf,
}

/// Generates a fixture database with `messages` messages.
pub(crate) async fn fixture(messages: u32) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("messages.db");
    perf_synth::generate_database(
        &path,
        &FixtureConfig {
            messages,
            ..FixtureConfig::default()
        },
    )
    .await
    .expect("generate fixture database");
    Fixture { _dir: dir, path }
}

/// A configuration for tests: no modelled latency.
pub(crate) fn test_config(path: &Path) -> RefBotConfig {
    RefBotConfig {
        database_path: path.to_owned(),
        latency_scale: 0.0,
        ..RefBotConfig::default()
    }
}

/// Opens a bot with `config`.
pub(crate) async fn open(config: RefBotConfig) -> RefBot {
    RefBot::open(config).await.expect("open refbot")
}
