use perf_suite::{run_suite, Config, SuiteEvent};
use tokio_util::sync::CancellationToken;

/// A small, fast configuration writing into `dir`.
pub(crate) fn small_config(dir: &std::path::Path) -> Config {
    let mut c = Config {
        database_path: dir.join("data/discord_messages.db"),
        output_dir: dir.join("reports"),
        history_path: dir.join("data/history.db"),
        ..Config::default()
    };
    c.fixture.messages = 1_500;
    c.query_count = 24;
    c.parallel_execution.rate_limit_per_second = None;
    c.refbot.latency_scale = 0.0;
    c.resource_monitoring.monitoring_interval = 0.2;
    c.synthetic_testing.scale = Some(0.005);
    c.performance_baselines.baselines_dir = dir.join("baselines");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pipeline_writes_a_consistent_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = run_suite(&config, Some(tx), CancellationToken::new())
        .await
        .unwrap();

    // The database was generated where configured, its directory created.
    assert!(config.database_path.is_file());

    // The result file is the machine-readable RunResult.
    let text = std::fs::read_to_string(outcome.result_file()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format_version"], perf_core::RUN_RESULT_FORMAT_VERSION);
    assert_eq!(json["overall"]["count"], 24 + synthetic_count(&json));
    let standard = &json["per_scenario"]["standard"];
    assert_eq!(standard["count"], 24);
    assert_eq!(standard["successes"], 24, "{}", json["failure_examples"]);
    for agent in perf_core::agents::ALL {
        assert_eq!(json["per_category"][agent]["count"], 6, "{agent}");
    }
    assert_eq!(standard["routing"]["checked"], 24);
    assert_eq!(standard["routing"]["correct"], 24);
    assert_eq!(json["content"]["total_messages"], 1_500);
    let phases = json["phases"].as_array().unwrap();
    let numbers: Vec<u64> = phases
        .iter()
        .map(|p| p["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5, 6]);

    // Phase 3 ran every synthetic kind; the reference bot handles every edge-case class.
    for scenario in ["edge_cases", "stress_high_frequency", "load_spike"] {
        assert!(
            json["per_scenario"][scenario]["count"].as_u64().unwrap() > 0,
            "{scenario}"
        );
    }
    let robustness: Vec<&serde_json::Value> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["group"] == "robustness")
        .collect();
    assert!(robustness.len() >= 13, "{robustness:?}");
    assert!(
        robustness.iter().all(|c| c["passed"] == true),
        "{robustness:?}"
    );
    // The probes' controls ran (one per agent) and the reasons state the probe rule.
    assert_eq!(json["per_category"]["edge:control:health"]["count"], 4);
    assert!(robustness.iter().all(|c| c["reason"]
        .as_str()
        .unwrap()
        .contains("rule: a probe passes")));
    let md = std::fs::read_to_string(outcome.run_dir().join("summary.md")).unwrap();
    assert!(
        md.contains("### Robustness: 13 of 13 classes handled"),
        "{md}"
    );
    assert!(json["notes"].to_string().contains("scale 0.005"));

    // Phase 5 found no baseline and said how to make one (lenient); phase 6 checked the
    // four critical paths; the history recorded the run.
    let checks = json["checks"].as_array().unwrap();
    let baseline = checks.iter().find(|c| c["group"] == "baseline").unwrap();
    assert_eq!(baseline["passed"], true);
    assert!(baseline["reason"]
        .as_str()
        .unwrap()
        .contains("baseline create"));
    let paths = checks
        .iter()
        .filter(|c| c["group"] == "critical_path")
        .count();
    assert_eq!(paths, 4);
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
    assert!(!json["trends"].as_array().unwrap().is_empty());
    for file in ["summary.md", "report.html", "junit.xml", "resources.csv"] {
        assert!(outcome.run_dir().join(file).is_file(), "{file}");
    }

    // The in-memory result matches the file.
    let back: perf_core::RunResult = serde_json::from_str(&text).unwrap();
    assert_eq!(back.overall, outcome.result.overall);

    // Samples were streamed, one line per executed query.
    let samples = std::fs::read_to_string(outcome.run_dir().join("samples.jsonl")).unwrap();
    assert_eq!(samples.lines().count() as u64, back.overall.count);

    // Progress events came through, phases in order.
    let mut started = Vec::new();
    let mut run_ids = Vec::new();
    let mut checks_sent = Vec::new();
    while let Ok(e) = rx.try_recv() {
        match e {
            SuiteEvent::Phase(perf_suite::PhaseEvent::Started { number, .. }) => {
                started.push(number);
            }
            SuiteEvent::RunStarted { run_id } => run_ids.push(run_id),
            SuiteEvent::Check(c) => checks_sent.push(c),
            _ => {}
        }
    }
    assert_eq!(started, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(run_ids, vec![outcome.result.run_id.clone()]);
    // Every check reached the event stream as it was decided.
    assert_eq!(checks_sent, outcome.result.checks);
}

fn synthetic_count(json: &serde_json::Value) -> u64 {
    json["per_scenario"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_str() != "standard")
        .map(|(_, v)| v["count"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(
        &config.database_path,
        "definitely not sqlite, just some text",
    )
    .unwrap();
    config.query_count = 4;
    let err = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("discord_messages.db"), "{err}");
    assert!(err.contains("not a message database"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refbot_llm_section_streams_through_the_whole_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    config.query_count = 8;
    // Milliseconds, not seconds: the same shape, a short run.
    config.refbot.llm = Some(perf_refbot::LlmConfig {
        time_scale: 0.005,
        ..perf_refbot::LlmConfig::default()
    });
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let samples = std::fs::read_to_string(outcome.run_dir().join("samples.jsonl")).unwrap();
    let standard: Vec<serde_json::Value> = samples
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|s| s["scenario"] == "standard")
        .collect();
    assert_eq!(standard.len(), 8);
    for s in &standard {
        // The smallest default prefill is 0.8 s × 0.005 = 4 ms at the median.
        assert!(s["ttft_us"].as_u64().is_some_and(|t| t > 0), "{s}");
        assert!(s["output_tokens"].as_u64().is_some_and(|n| n > 1), "{s}");
    }
    assert_eq!(outcome.result.per_scenario["standard"].ttft.count(), 8);
}
