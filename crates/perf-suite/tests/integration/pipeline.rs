use perf_suite::{run_suite, Config, SuiteEvent};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_pipeline_writes_a_consistent_result_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::small(dir.path());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = run_suite(&config, Some(tx), CancellationToken::new())
        .await
        .unwrap();

    // The database was generated where configured, its directory created.
    assert!(config.database_path.is_file());

    // The result file is the machine-readable RunResult.
    let text = std::fs::read_to_string(outcome.result_file()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["format_version"],
        perf_core::record::RUN_RESULT_FORMAT_VERSION
    );
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
    // The probes' controls ran (one per agent); the probe rule is stated once in the
    // report, not in each of the classes' reasons.
    assert_eq!(json["per_category"]["edge:control:health"]["count"], 4);
    assert!(!robustness
        .iter()
        .any(|c| c["reason"].as_str().unwrap().contains("a probe passes")));
    let html = std::fs::read_to_string(outcome.run_dir().join("report.html")).unwrap();
    assert_eq!(html.matches("a probe passes when").count(), 1);
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
    // Nothing was compared: not measured (SKIP), never a pass.
    assert_eq!(baseline["status"], "not_measured");
    assert_eq!(baseline["passed"], false);
    assert!(baseline["reason"]
        .as_str()
        .unwrap()
        .contains("baseline create"));
    let paths = checks
        .iter()
        .filter(|c| c["group"] == "critical_path")
        .count();
    assert_eq!(paths, 4);
    assert!(
        checks
            .iter()
            .filter(|c| c["group"] != "baseline")
            .all(|c| c["status"] == "passed" && c["passed"] == true),
        "{checks:?}"
    );
    assert!(!json["trends"].as_array().unwrap().is_empty());
    for file in ["summary.md", "report.html", "junit.xml", "resources.csv"] {
        assert!(outcome.run_dir().join(file).is_file(), "{file}");
    }

    // The in-memory result matches the file.
    let back: perf_core::record::RunResult = serde_json::from_str(&text).unwrap();
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
    let mut config = Config::small(dir.path());
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
    let mut config = Config::small(dir.path());
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

/// A plain run against the reference bot with `refbot.wrong_rate` 0.2: report.json's
/// goodput counts exactly the queries the bot's plan answers rightly, about 0.8 of the
/// throughput.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_run_against_a_bot_answering_a_fifth_wrongly_has_four_fifths_goodput() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.query_count = 200;
    config.synthetic_testing.enabled = false;
    config.refbot.wrong_rate = 0.2;
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    let text = std::fs::read_to_string(outcome.result_file()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let bot = perf_refbot::RefBotConfig {
        seed: config.seed,
        wrong_rate: 0.2,
        ..perf_refbot::RefBotConfig::default()
    };
    let standard = &json["per_scenario"]["standard"];
    assert_eq!(standard["count"], 200);
    // The truth: which of the run's ids the bot's plan answers wrongly (the draw does not
    // depend on the agent).
    let wrong = (0..200)
        .filter(|i| perf_refbot::plan_query(&bot, "any", &format!("std-{i:04}")).wrong)
        .count() as u64;
    assert!((25..=55).contains(&wrong), "{wrong}");
    let g = &json["goodput"]["overall"];
    assert_eq!(g["counted"], 200);
    assert_eq!(g["good"].as_u64(), Some(200 - wrong), "{g}");
    let wall = json["wall_time_s"].as_f64().unwrap();
    let goodput = g["good"].as_f64().unwrap() / wall;
    let throughput = json["overall"]["count"].as_f64().unwrap() / wall;
    let ratio = goodput / throughput;
    assert!((0.72..0.88).contains(&ratio), "{ratio}");
    assert_eq!(standard["successes"].as_u64(), Some(200 - wrong));
    let md = std::fs::read_to_string(outcome.run_dir().join("summary.md")).unwrap();
    assert!(md.contains("goodput"), "{md}");
}

/// A past run in the history: 100 queries of 100 ms, `ok` of them answered.
fn past_run(i: usize, ok: usize) -> perf_core::record::RunResult {
    let mut r = perf_core::record::RunResult::new(
        format!("past-{i:02}"),
        format!("2026-01-{:02}T10:00:00Z", i + 1),
        // Past runs of the same bot (an older version: a trend follows a bot across its
        // versions, and never across bots).
        perf_core::TargetInfo {
            name: "refbot".into(),
            version: Some("0.0.9".into()),
            transport: perf_core::Transport::InProcess,
        },
    );
    for q in 0..100 {
        let outcome = if q < ok {
            perf_core::Outcome::Ok
        } else {
            perf_core::Outcome::Error(perf_core::ErrorKind::Bot)
        };
        r.record(&perf_core::Sample::new(
            format!("q{q}"),
            "standard",
            "c",
            outcome,
            100_000,
        ));
    }
    r.wall_time_s = 10.0;
    r
}

/// Forecasts in the run reports: six past runs inserted into the real SQLite history with
/// a success rate falling 2 points a run (1.00 … 0.90), then a run of the reference bot
/// failing a known share: report.json, summary.md and report.html say when the success
/// rate passes `slos.success_rate` 0.8, at the slope of the seven runs; the latency p95,
/// flat at 100 ms then falling, gets a refusal. A first run gets "history too short".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reports_forecast_when_a_falling_success_rate_passes_its_objective() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.query_count = 200;
    config.synthetic_testing.enabled = false;
    config.slos.success_rate = Some(0.8);
    config.slos.latency_p95_ms = Some(2_000.0);

    // A first run: nothing to forecast from yet, and the report says so.
    let mut first = config.clone();
    first.history_path = dir.path().join("data/first.db");
    let outcome = run_suite(&first, None, CancellationToken::new())
        .await
        .unwrap();
    let f = &outcome.result.forecasts;
    assert_eq!(f.len(), 2, "{f:?}");
    assert!(f.iter().all(|f| matches!(
        &f.forecast,
        perf_core::record::Forecast::Refused { reason, .. } if reason.contains("history too short: 1 runs")
    )));
    let md = std::fs::read_to_string(outcome.run_dir().join("summary.md")).unwrap();
    assert!(
        md.contains("### Forecasts") && md.contains("history too short"),
        "{md}"
    );

    let history = perf_baseline::History::connect(&config.history_location().unwrap())
        .await
        .unwrap();
    let mut ys = Vec::new();
    for i in 0..6 {
        let ok = 100 - 2 * i;
        history.record(&past_run(i, ok)).await.unwrap();
        ys.push(ok as f64 / 100.0);
    }
    history.close().await;
    config.refbot.error_rate = 0.12;
    let bot = perf_refbot::RefBotConfig {
        seed: config.seed,
        error_rate: 0.12,
        ..perf_refbot::RefBotConfig::default()
    };
    let errors = (0..200)
        .filter(|i| perf_refbot::plan_query(&bot, "any", &format!("std-{i:04}")).error)
        .count();
    ys.push(1.0 - errors as f64 / 200.0);

    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    // The truth: the least-squares line through the seven success rates reaches 0.8
    // this many runs after the last.
    let n = ys.len() as f64;
    let xbar = (n - 1.0) / 2.0;
    let ybar = ys.iter().sum::<f64>() / n;
    let sxy: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - xbar) * (y - ybar))
        .sum();
    let sxx: f64 = (0..ys.len()).map(|i| (i as f64 - xbar).powi(2)).sum();
    let slope = sxy / sxx;
    let now = ybar + slope * (n - 1.0 - xbar);
    let runs = (now - 0.8) / -slope;
    assert!((2.0..7.0).contains(&runs), "{runs} from {ys:?}");

    // Goodput and quality are recorded where counted: the past runs did not count them.
    for metric in ["goodput", "quality"] {
        let t = outcome.result.trends.iter().find(|t| t.metric == metric);
        assert_eq!(t.map(|t| t.points.len()), Some(1), "{metric}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(outcome.result_file()).unwrap()).unwrap();
    let forecasts = json["forecasts"]
        .as_array()
        .expect("forecasts in report.json");
    let success = forecasts
        .iter()
        .find(|f| f["metric"] == "success_rate")
        .expect("a success_rate forecast");
    assert_eq!(success["kind"], "crossing", "{success}");
    assert_eq!(success["objective_key"], "slos.success_rate");
    assert_eq!(success["objective"], 0.8);
    assert!(
        (success["runs"].as_f64().unwrap() - runs).abs() < 1e-9,
        "{success} vs {runs}"
    );
    let sentence = format!("success_rate passes 0.8 in about {:.0} runs", runs.round());
    assert!(
        success["message"].as_str().unwrap().contains(&sentence),
        "{success}"
    );
    let p95 = forecasts
        .iter()
        .find(|f| f["metric"] == "latency_p95")
        .expect("a latency_p95 forecast");
    assert_eq!(p95["kind"], "refused", "{p95}");
    assert_eq!(p95["objective_key"], "slos.latency_p95_ms");
    let md = std::fs::read_to_string(outcome.run_dir().join("summary.md")).unwrap();
    // Markdown escapes the underscore.
    let escaped = sentence.replace('_', "\\_");
    assert!(
        md.contains("### Forecasts") && md.contains(&escaped),
        "{md}"
    );
    let html = std::fs::read_to_string(outcome.run_dir().join("report.html")).unwrap();
    assert!(html.contains(&sentence), "the forecast is in report.html");
    let terminal = perf_report::render_terminal(&outcome.result, false);
    assert!(terminal.contains(&sentence), "{terminal}");
}
