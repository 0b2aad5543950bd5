//! DiscordChatExporter imports: both format ages, idempotence, malformed files.

use std::path::{Path, PathBuf};

use perf_synth::{
    analyze_content, generate_standard_queries, import_discord_exports, open_database, ImportStats,
};
use sqlx::Row;

use crate::support::workspace_root;

fn exports(sub: &str) -> PathBuf {
    workspace_root().join("fixtures/discord-exports").join(sub)
}

async fn count(db: &Path, table: &str) -> i64 {
    let pool = open_database(db).await.unwrap();
    let n = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

#[tokio::test]
async fn current_and_legacy_exports_import_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/discord_messages.db");
    let stats = import_discord_exports(&db, &[exports("current"), exports("legacy/random.json")])
        .await
        .unwrap();
    assert_eq!(
        stats,
        ImportStats {
            files: 3,
            created_database: true,
            channels_added: 3,
            // ferris, corro, helper-bot, lurker (mentioned only); oldtimer, cinephile, MEE6.
            users_added: 7,
            messages_added: 8,
            messages_already_present: 0,
            // GuildMemberJoin and ChannelPinnedMessage.
            system_messages_skipped: 2,
            mentions_added: 3,
            // 👍, 🦀, ferrisHeart, 🎉 (the nameless one is dropped), 🍕, pepeYes.
            reactions_added: 6,
        }
    );

    let again = import_discord_exports(&db, &[exports("current"), exports("legacy")])
        .await
        .unwrap();
    assert_eq!(again.messages_added, 0);
    assert_eq!(again.users_added + again.channels_added, 0);
    assert_eq!(again.mentions_added + again.reactions_added, 0);
    assert_eq!(again.messages_already_present, 8);
    assert!(!again.created_database);
    assert_eq!(count(&db, "messages").await, 8);

    let pool = open_database(&db).await.unwrap();
    // Offsets are applied: 12:05:00.5-04:00 is 16:05:00 UTC.
    let (created, edited, reply_to): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT created_at, edited_at, reply_to FROM messages WHERE id = 1100000000000000002",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(created, 1_717_257_900);
    assert_eq!(edited, Some(1_717_258_200));
    assert_eq!(reply_to, Some(1_100_000_000_000_000_001));
    let legacy_time: i64 =
        sqlx::query_scalar("SELECT created_at FROM messages WHERE id = 400000000000000100")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(legacy_time, 1_552_576_750); // 2019-03-14T15:19:10Z
    let bots: Vec<String> = sqlx::query("SELECT name FROM users WHERE is_bot = 1 ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(bots, vec!["MEE6", "helper-bot"]);
    let display: String =
        sqlx::query_scalar("SELECT display_name FROM users WHERE id = 800000000000000001")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(display, "Ferris the Crab");
    let custom: i64 = sqlx::query_scalar(
        "SELECT count FROM reactions WHERE message_id = 1100000000000000002 AND emoji = 'ferrisHeart'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(custom, 5);
    let hits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'tokio'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(hits, 4);

    // Content analysis and standard queries run on the imported server.
    let profile = analyze_content(&pool, &db).await.unwrap();
    assert_eq!(profile.total_messages, 8);
    assert_eq!(profile.channels[0].name, "dev-help");
    assert!(profile.top_terms.iter().any(|t| t.term == "tokio"));
    let queries = generate_standard_queries(&profile, 8, 1);
    assert!(queries.iter().any(|q| q.text.contains("#dev-help")
        || q.text.contains("#general")
        || q.text.contains("#random")));
}

#[tokio::test]
async fn malformed_files_are_named_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    import_discord_exports(&db, &[exports("legacy")])
        .await
        .unwrap();
    let before = count(&db, "messages").await;

    for (file, line, what) in [
        ("truncated.json", 18, "EOF while parsing"),
        (
            "bad-timestamp.json",
            17,
            "timestamp \"01/06/2024 10:02\" is not an RFC 3339",
        ),
        ("bad-id.json", 5, "not a Discord snowflake"),
    ] {
        let path = exports("malformed").join(file);
        let err = import_discord_exports(&db, std::slice::from_ref(&path))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("{}:{line}:", path.display())),
            "{file}: {err}"
        );
        assert!(err.contains(what), "{file}: {err}");
        assert!(err.contains("nothing from this file was imported"), "{err}");
    }
    // bad-timestamp.json's first message is valid, but the file is all or nothing.
    assert_eq!(count(&db, "messages").await, before);
    assert_eq!(count(&db, "users WHERE name = 'timekeeper'").await, 0);
    assert_eq!(count(&db, "channels WHERE name = 'bad-times'").await, 0);

    // Files before a bad one stay imported, and the error names the bad one.
    let err = import_discord_exports(&db, &[exports("current"), exports("malformed/bad-id.json")])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad-id.json"), "{err}");
    assert_eq!(count(&db, "messages").await, before + 5);

    let not_export = dir.path().join("scenario.json");
    std::fs::write(&not_export, r#"{"format_version": 1, "queries": []}"#).unwrap();
    let err = import_discord_exports(&db, &[not_export])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing field `channel`"), "{err}");

    let err = import_discord_exports(&db, &[dir.path().join("nope")])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope"), "{err}");
}

#[tokio::test]
async fn importing_into_something_else_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("notes.db");
    std::fs::write(&db, b"plain text, not a database at all, padded out").unwrap();
    let err = import_discord_exports(&db, &[exports("legacy")])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a message database"), "{err}");
}
