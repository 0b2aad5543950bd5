//! Shared helpers.

use std::path::PathBuf;

use perf_core::{ChannelStat, ContentProfile, TermStat, UserStat};

/// A generated 2,000-message database in a temporary directory, and its content profile.
pub(crate) async fn fixture_database() -> (tempfile::TempDir, PathBuf, ContentProfile) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let config = perf_synth::FixtureConfig {
        messages: 2_000,
        ..perf_synth::FixtureConfig::default()
    };
    perf_synth::generate_database(&path, &config).await.unwrap();
    let pool = perf_synth::open_database(&path).await.unwrap();
    let content = perf_synth::analyze_content(&pool, &path).await.unwrap();
    pool.close().await;
    (dir, path, content)
}

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A small, fixed content profile, so snapshots do not depend on the fixture generator.
pub(crate) fn profile() -> ContentProfile {
    ContentProfile {
        total_messages: 1234,
        channels: vec![
            ChannelStat {
                name: "general".into(),
                messages: 800,
            },
            ChannelStat {
                name: "dev-help".into(),
                messages: 434,
            },
        ],
        users: vec![
            UserStat {
                name: "alice".into(),
                messages: 99,
            },
            UserStat {
                name: "bob_dev".into(),
                messages: 42,
            },
        ],
        top_terms: vec![
            TermStat {
                term: "rust".into(),
                count: 50,
            },
            TermStat {
                term: "tokio".into(),
                count: 30,
            },
            TermStat {
                term: "meetup".into(),
                count: 20,
            },
        ],
        first_message_at: 0,
        last_message_at: 86_400 * 30,
    }
}
