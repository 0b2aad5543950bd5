use std::time::Duration;

use perf_core::{agents, BotTarget, ErrorKind, Query};
use perf_refbot::{plan_query, RefBotConfig};

use crate::{fixture, open, test_config};

const TEXTS: [&str; 4] = [
    "How many messages have been sent in this server?",
    "Search for messages about rust",
    "Summarize #general from the last 7 days",
    "Find discussions mentioning coffee",
];

#[tokio::test]
async fn error_rate_one_fails_every_query_with_a_bot_error() {
    let fx = fixture(300).await;
    let bot = open(RefBotConfig {
        error_rate: 1.0,
        ..test_config(&fx.path)
    })
    .await;
    for i in 0..40 {
        let q = Query::new(format!("e-{i}"), TEXTS[i % TEXTS.len()], "x");
        let err = bot.execute(&q).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Bot);
        assert!(err.message.contains("injected"), "{err}");
    }
}

#[tokio::test]
async fn error_rate_point_three_fails_about_thirty_percent_deterministically() {
    let fx = fixture(300).await;
    let config = RefBotConfig {
        error_rate: 0.3,
        seed: 7,
        ..test_config(&fx.path)
    };
    let bot = open(config.clone()).await;
    let mut failed = Vec::new();
    for i in 0..1_000 {
        let q = Query::new(format!("q-{i}"), TEXTS[i % TEXTS.len()], "x");
        match bot.execute(&q).await {
            Ok(r) => assert!(!r.answer.is_empty()),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Bot);
                failed.push(i);
            }
        }
    }
    assert!((250..=350).contains(&failed.len()), "{}", failed.len());
    // The same ids fail again, whatever the order: the draw depends on the id only.
    for &i in failed.iter().rev().take(20) {
        let q = Query::new(format!("q-{i}"), TEXTS[0], "x");
        assert!(plan_query(&config, agents::SERVER_ANALYSIS, &q.id).error);
        assert!(bot.execute(&q).await.is_err());
    }
}

#[test]
fn latency_factor_two_doubles_the_modelled_latency_of_every_agent() {
    let base = RefBotConfig::default();
    let slow = RefBotConfig {
        latency_factor: 2.0,
        ..RefBotConfig::default()
    };
    for agent in agents::ALL {
        for i in 0..50 {
            let id = format!("lat-{i}");
            let a = plan_query(&base, agent, &id).model_latency;
            let b = plan_query(&slow, agent, &id).model_latency;
            assert!(a > Duration::ZERO);
            let ratio = b.as_secs_f64() / a.as_secs_f64();
            assert!((ratio - 2.0).abs() < 1e-6, "{agent} {id}: {a:?} {b:?}");
        }
    }
}

#[tokio::test]
async fn a_hanging_query_answers_only_after_the_hang_duration() {
    let fx = fixture(200).await;
    let bot = open(RefBotConfig {
        hang_rate: 1.0,
        hang_duration: Duration::from_secs(60),
        ..test_config(&fx.path)
    })
    .await;
    // Paused after opening: the database pool is ready, and an empty query needs no SQL,
    // so the only timer is the hang itself.
    tokio::time::pause();
    let q = Query::new("hang-1", "", "x");
    let early = tokio::time::timeout(Duration::from_secs(59), bot.execute(&q)).await;
    assert!(early.is_err(), "answered before the hang ended");
    let start = tokio::time::Instant::now();
    let r = bot.execute(&q).await.unwrap();
    // Timers have millisecond resolution, so the clock may stop just past the hang.
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(60) && elapsed < Duration::from_millis(60_005),
        "{elapsed:?}"
    );
    assert_eq!(r.metadata["hung"], true);
    assert_eq!(r.primary_agent(), Some(agents::SEMANTIC_SEARCH));
}

#[tokio::test]
async fn modelled_latency_is_slept_in_addition_to_the_work() {
    let fx = fixture(100).await;
    let config = RefBotConfig {
        latency_scale: 1.0,
        latency_factor: 1.5,
        ..test_config(&fx.path)
    };
    let bot = open(config.clone()).await;
    // Paused after opening, and a blank query needs no SQL: paused time measures exactly
    // the modelled latency (rounded up to the timer's millisecond).
    tokio::time::pause();
    let q = Query::new("lat-1", "   ", "x");
    let start = tokio::time::Instant::now();
    let r = bot.execute(&q).await.unwrap();
    let expected = plan_query(&config, agents::SEMANTIC_SEARCH, "lat-1").model_latency;
    assert!(expected > Duration::from_millis(10));
    let elapsed = start.elapsed();
    assert!(
        elapsed >= expected && elapsed < expected + Duration::from_millis(5),
        "{elapsed:?} vs {expected:?}"
    );
    let reported = r.metadata["modelled_latency_ms"].as_f64().unwrap();
    assert!((reported - expected.as_secs_f64() * 1e3).abs() < 1e-6);
}

/// `wrong_rate`: exactly the ids the plan marks answer wrongly, every one of them fails a
/// grounded fact of its standard query while keeping the agent and the length of the
/// right answer; the others meet every expectation. In the default and the LLM mode.
#[tokio::test]
async fn wrong_rate_fails_the_grounded_facts_of_exactly_the_planned_ids() {
    let fx = fixture(1_000).await;
    let pool = perf_synth::open_database(&fx.path).await.unwrap();
    let profile = perf_synth::analyze_content(&pool, &fx.path).await.unwrap();
    pool.close().await;
    let queries = perf_synth::generate_standard_queries(&profile, 200, 9);
    for llm in [
        None,
        Some(perf_refbot::LlmConfig {
            time_scale: 0.0,
            ..perf_refbot::LlmConfig::default()
        }),
    ] {
        let config = RefBotConfig {
            wrong_rate: 0.2,
            llm,
            ..test_config(&fx.path)
        };
        let bot = open(config.clone()).await;
        let right = open(RefBotConfig {
            wrong_rate: 0.0,
            ..config.clone()
        })
        .await;
        let mut wrong = 0;
        for q in &queries {
            let agent = q.expected_agent.as_deref().unwrap();
            let planned = plan_query(&config, agent, &q.id).wrong;
            let r = bot.execute(q).await.unwrap();
            let truth = right.execute(q).await.unwrap();
            assert_eq!(r.primary_agent(), Some(agent), "routing is untouched");
            assert_eq!(r.metadata["wrong"], planned, "{}", q.id);
            let failures = perf_core::check_expectations(&q.expectations, &r);
            if planned {
                wrong += 1;
                assert!(
                    failures.iter().all(|f| f.expectation == "answer_contains"),
                    "{failures:?}"
                );
                assert!(!failures.is_empty(), "{}: {}", q.text, r.answer);
                assert_eq!(r.answer.chars().count(), truth.answer.chars().count());
                assert_eq!(r.stream_chunks, truth.stream_chunks, "same tokens");
            } else {
                assert!(failures.is_empty(), "{}: {failures:?}", q.text);
                assert_eq!(r.answer, truth.answer);
            }
        }
        // Binomial(200, 0.2): 40 ± 5.7; the draw is fixed, so this is exact per seed.
        assert!((25..=55).contains(&wrong), "{wrong}");
    }
}
