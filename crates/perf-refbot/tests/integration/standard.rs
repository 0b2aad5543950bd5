use perf_core::{agents, check_expectations, BotTarget, Query};
use perf_refbot::{RefBot, RefBotConfig, RefBotError};

use crate::{fixture, open, test_config};

#[tokio::test]
async fn standard_queries_route_right_and_meet_every_expectation() {
    let fx = fixture(3_000).await;
    let pool = perf_synth::open_database(&fx.path).await.unwrap();
    let profile = perf_synth::analyze_content(&pool, &fx.path).await.unwrap();
    pool.close().await;
    let bot = open(test_config(&fx.path)).await;
    for seed in [1, 42, 2024] {
        let queries = perf_synth::generate_standard_queries(&profile, 40, seed);
        assert_eq!(queries.len(), 40);
        for q in &queries {
            let r = bot
                .execute(q)
                .await
                .unwrap_or_else(|e| panic!("{q:?}: {e}"));
            assert_eq!(
                r.primary_agent(),
                q.expected_agent.as_deref(),
                "{}: {}",
                q.text,
                r.answer
            );
            let failures = check_expectations(&q.expectations, &r);
            assert!(
                failures.is_empty(),
                "{}\n{}\n{failures:?}",
                q.text,
                r.answer
            );
        }
    }
}

#[tokio::test]
async fn answers_carry_the_facts_of_the_database() {
    let fx = fixture(3_000).await;
    let pool = perf_synth::open_database(&fx.path).await.unwrap();
    let profile = perf_synth::analyze_content(&pool, &fx.path).await.unwrap();
    let bot = open(test_config(&fx.path)).await;

    let ask = |text: &str| Query::new("fact", text, "test");
    let server = bot
        .execute(&ask("Give me an overview of server activity"))
        .await
        .unwrap();
    assert!(server.answer.contains("3000 messages"), "{}", server.answer);
    for u in &profile.users[..3] {
        assert!(server.answer.contains(&u.name), "{}", server.answer);
    }

    let user = &profile.users[5];
    let r = bot
        .execute(&ask(&format!("Analyze the activity of user {}", user.name)))
        .await
        .unwrap();
    assert_eq!(r.primary_agent(), Some(agents::USER_ANALYSIS));
    assert!(
        r.answer.contains(&format!("{} messages", user.messages)),
        "{}",
        r.answer
    );

    // The digest window ends at the latest message, not now: a 7-day digest of the
    // busiest channel counts exactly what SQL counts there.
    let top = &profile.channels[0];
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM messages m JOIN channels c ON c.id = m.channel_id \
         WHERE c.name = ?1 AND m.created_at > (SELECT max(created_at) FROM messages) - 7 * 86400",
    )
    .bind(&top.name)
    .fetch_one(&pool)
    .await
    .unwrap();
    let r = bot
        .execute(&ask(&format!(
            "Summarize #{} from the last 7 days",
            top.name
        )))
        .await
        .unwrap();
    assert_eq!(r.primary_agent(), Some(agents::DIGEST_GENERATION));
    assert!(expected > 0);
    assert!(
        r.answer.contains(&format!("{expected} messages from")),
        "{expected}: {}",
        r.answer
    );
    assert!(r.answer.contains("Highlights:"), "{}", r.answer);
    assert!(r.answer.contains("Top contributors:"), "{}", r.answer);

    // Search finds the term with bm25-ranked snippets naming channel and author.
    let r = bot
        .execute(&ask("Search for messages about tokio"))
        .await
        .unwrap();
    let hits: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'tokio'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        r.answer
            .contains(&format!("Found {hits} messages matching tokio")),
        "{}",
        r.answer
    );
    assert!(r.answer.contains("#dev-help by "), "{}", r.answer);
    assert!(r.answer.contains("**tokio**"), "{}", r.answer);
}

#[tokio::test]
async fn describe_and_process_id_identify_the_in_process_bot() {
    let fx = fixture(200).await;
    let bot = open(test_config(&fx.path)).await;
    let info = bot.describe();
    assert_eq!(info.name, "refbot");
    assert_eq!(info.transport, perf_core::Transport::InProcess);
    assert_eq!(info.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(bot.process_id(), Some(std::process::id()));
    assert_eq!(bot.route("recap #general"), agents::DIGEST_GENERATION);
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_missing_or_foreign_database_is_a_named_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.db");
    let err = RefBot::open(RefBotConfig {
        database_path: missing.clone(),
        ..RefBotConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, RefBotError::Schema { .. }), "{err}");
    assert!(err.to_string().contains("absent.db"), "{err}");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"definitely not a sqlite database, only some text").unwrap();
    let err = RefBot::open(test_config(&junk))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("junk.db"), "{err}");

    let bad = RefBot::open(RefBotConfig {
        error_rate: 2.0,
        ..test_config(&junk)
    })
    .await
    .unwrap_err();
    assert!(
        matches!(
            bad,
            RefBotError::Config {
                key: "error_rate",
                ..
            }
        ),
        "{bad}"
    );
}

#[tokio::test]
async fn a_digest_without_a_channel_uses_the_channel_the_query_was_posted_in() {
    let fx = fixture(500).await;
    let bot = open(test_config(&fx.path)).await;
    let mut q = Query::new("d", "Give me a recap of the last 30 days", "x");
    let server_wide = bot.execute(&q).await.unwrap();
    assert!(
        server_wide.answer.starts_with("Digest of the whole server"),
        "{}",
        server_wide.answer
    );
    q.channel = Some("#Dev-Help".to_owned());
    let r = bot.execute(&q).await.unwrap();
    assert!(
        r.answer
            .starts_with("Digest of #dev-help for the last 30 days"),
        "{}",
        r.answer
    );
    // A channel named in the text wins over the one it was posted in.
    q.text = "recap #general".to_owned();
    let r = bot.execute(&q).await.unwrap();
    assert!(r.answer.starts_with("Digest of #general"), "{}", r.answer);
}
