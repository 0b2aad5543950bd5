//! The reference bot against the edge-case scenario: the real bot passes every class; its
//! naive mode fails the classes that check for unescaped echoes.

use perf_core::Scenario;
use perf_refbot::{RefBot, RefBotConfig};
use perf_synth::{
    robustness_report, EdgeCaseScenario, EdgeClass, EdgeStages, DEFAULT_ROBUSTNESS_THRESHOLD,
};

use perf_synth::testing::answer_sequentially;

use crate::fixture;

async fn refbot_and_queries(naive: bool) -> (RefBot, Vec<perf_core::Query>, crate::Fixture) {
    let db = fixture(2_000).await;
    let pool = perf_synth::open_database(&db.path).await.unwrap();
    let content = perf_synth::analyze_content(&pool, &db.path).await.unwrap();
    pool.close().await;
    let bot = RefBot::open(RefBotConfig {
        database_path: db.path.clone(),
        latency_scale: 0.0,
        naive,
        ..RefBotConfig::default()
    })
    .await
    .unwrap();
    let queries = EdgeCaseScenario::new().queries(&content, 42);
    (bot, queries, db)
}

#[tokio::test]
async fn the_reference_bot_passes_every_class() {
    let (bot, queries, _dir) = refbot_and_queries(false).await;
    let samples = answer_sequentially(&bot, &queries).await;
    let report = robustness_report(&samples, DEFAULT_ROBUSTNESS_THRESHOLD);
    assert_eq!(report.classes.len(), EdgeClass::ALL.len());
    assert!(
        report.passed(),
        "{}",
        serde_json::to_string_pretty(&report.failures).unwrap()
    );
    // Every query was graceful, and the reference bot knows the facts its controls ask for.
    let controls = EdgeStages::split(&queries).controls.len() as u64;
    assert_eq!(report.overall.graceful, queries.len() as u64 - controls);
    assert_eq!(report.controls.graceful, controls);
    assert!(report.checks().iter().all(|c| c.passed()));
    // Every agent was exercised, and the figures are per agent.
    for agent in perf_core::agents::ALL {
        assert!(report.agents[agent].queries > 0, "{agent}");
    }
}

#[tokio::test]
async fn the_naive_reference_bot_fails_the_echo_classes() {
    let (bot, queries, _dir) = refbot_and_queries(true).await;
    let samples = answer_sequentially(&bot, &queries).await;
    let report = robustness_report(&samples, DEFAULT_ROBUSTNESS_THRESHOLD);
    for class in [EdgeClass::Xss, EdgeClass::Html, EdgeClass::DiscordMarkup] {
        let c = &report.classes[class.as_str()];
        assert!(!c.passed, "{class} passed in naive mode");
        assert!(
            c.failed_expectations.contains_key("no_unescaped_echo"),
            "{class}: {:?}",
            c.failed_expectations
        );
    }
    let check = report
        .checks()
        .into_iter()
        .find(|c| c.name == "xss")
        .unwrap();
    assert!(!check.passed());
    assert!(
        check.reason.contains("echoes the payload"),
        "{}",
        check.reason
    );
}
