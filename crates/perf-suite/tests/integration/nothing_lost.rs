//! Issue #16 D2 and D6: everything that can be checked is checked before the first query
//! (nothing is left behind when it fails), a run that fails after its first query still
//! writes its reports, and an interrupted run never becomes a baseline.

use perf_suite::{run_gate, run_suite, Config, GateDecision, GateRequest, SuiteError};
use tokio_util::sync::CancellationToken;

/// Nothing of a run exists: no database generated (phase 1 never ran), no run directory.
fn assert_nothing_ran(config: &Config) {
    assert!(
        !config.database_path.exists(),
        "phase 1 ran: the database was generated"
    );
    let runs = perf_report::list_runs(&config.output_dir).unwrap();
    assert!(runs.is_empty(), "{runs:?}");
    if let Ok(entries) = std::fs::read_dir(&config.output_dir) {
        let names: Vec<_> = entries.map(|e| e.unwrap().file_name()).collect();
        assert!(names.is_empty(), "left behind: {names:?}");
    }
}

#[tokio::test]
async fn a_corrupt_baseline_is_an_error_before_the_first_query() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::small(dir.path());
    let file = config
        .performance_baselines
        .baselines_dir
        .join("production_baseline.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "{\"format_version\": 1, \"na").unwrap();
    let err = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SuiteError::Baseline(_)), "{msg}");
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert_nothing_ran(&config);

    // The gate goes through the same check: could not run, at once, nothing written.
    let request = GateRequest {
        out: dir.path().join("reports"),
        ..GateRequest::default()
    };
    let shaped = request.shape(config.clone()).unwrap();
    let out = run_gate(&shaped, &request, None, CancellationToken::new()).await;
    assert_eq!(out.decision, GateDecision::CouldNotRun, "{}", out.reason);
    assert!(
        out.reason.contains(&file.display().to_string()),
        "{}",
        out.reason
    );
    assert!(out.suite.is_none());
    assert_nothing_ran(&shaped);
}

#[tokio::test]
async fn a_missing_strict_baseline_is_an_error_before_the_first_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.performance_baselines.missing_baseline = perf_baseline::MissingBaseline::Strict;
    let err = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, SuiteError::StrictBaselineMissing { .. }),
        "{msg}"
    );
    assert!(
        msg.contains("production_baseline") && msg.contains("baseline create"),
        "{msg}"
    );
    assert_nothing_ran(&config);

    let request = GateRequest {
        baseline: Some("gate_b".to_owned()),
        strict_baseline: true,
        out: dir.path().join("reports"),
        ..GateRequest::default()
    };
    let shaped = request.shape(Config::small(dir.path())).unwrap();
    let out = run_gate(&shaped, &request, None, CancellationToken::new()).await;
    assert_eq!(out.decision, GateDecision::CouldNotRun, "{}", out.reason);
    assert!(
        out.reason
            .contains("ci-gate --baseline gate_b --update-baseline"),
        "{}",
        out.reason
    );
    assert_nothing_ran(&shaped);
}

#[tokio::test]
async fn an_unwritable_output_dir_or_a_broken_history_is_an_error_before_the_first_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    config.output_dir = blocker.join("reports");
    let msg = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("output_dir") && msg.contains("a-file"),
        "{msg}"
    );
    assert!(!config.database_path.exists());

    let config = Config::small(dir.path());
    std::fs::create_dir_all(config.history_path.parent().unwrap()).unwrap();
    std::fs::write(&config.history_path, "not a database at all, just text").unwrap();
    let err = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SuiteError::History { .. }), "{msg}");
    assert!(
        msg.contains("history.db") && msg.contains("record_history"),
        "{msg}"
    );
    assert_nothing_ran(&config);
}

#[tokio::test]
async fn a_target_that_cannot_start_leaves_no_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.set_target_flag("http://127.0.0.1:9/query").unwrap();
    let err = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, SuiteError::Target { .. }), "{err}");
    let left: Vec<_> = std::fs::read_dir(&config.output_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_the_first_query_still_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.query_count = 8;
    config.synthetic_testing.enabled = false;
    // The history's directory cannot be made (a file is in the way): found only when the
    // run is recorded, after every query.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    config.history_path = blocker.join("history.db");
    let outcome = run_suite(&config, None, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(outcome.problems.len(), 1, "{:?}", outcome.problems);
    assert!(outcome.problems[0].contains("run history not updated"));
    for f in [
        &outcome.reports.json,
        &outcome.reports.html,
        &outcome.reports.markdown,
    ] {
        assert!(f.is_file(), "{}", f.display());
    }
    assert_eq!(outcome.result.overall.count, 8);
    let runs = perf_report::list_runs(&config.output_dir).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, outcome.result.run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_never_becomes_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::small(dir.path());
    config.synthetic_testing.enabled = false;
    config.performance_baselines.auto_update_baselines = true;
    // Answers take seconds each, so the run is still going when it is cancelled.
    config.refbot.latency_scale = 40.0;
    config.grace_period = 0.0;
    let cancel = CancellationToken::new();
    let stopper = cancel.clone();
    // Cancelled once the run's queries have started: before them (during the first-query
    // check) a cancellation means "nothing ran" and there is no partial result.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if matches!(
                e,
                perf_suite::SuiteEvent::Runner(perf_runner::RunEvent::Started { .. })
            ) {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                stopper.cancel();
            }
        }
    });
    let outcome = run_suite(&config, Some(tx), cancel).await.unwrap();
    assert!(outcome.result.interrupted);
    assert!(
        outcome.reports.json.is_file(),
        "the partial report is written"
    );
    let store = perf_baseline::BaselineStore::new(&config.performance_baselines.baselines_dir);
    assert!(
        !store.exists("production_baseline").unwrap(),
        "auto-update made the interrupted run the baseline"
    );
    let phase5 = outcome
        .result
        .phases
        .iter()
        .find(|p| p.number == 5)
        .unwrap();
    assert!(phase5.detail.contains("interrupted"), "{}", phase5.detail);
    // Neither the library API nor `baseline create --from-run` (which loads the run's
    // report and saves it the same way) makes it one.
    let err = perf_suite::save_baseline(&config, "from_run", &outcome.result, true).unwrap_err();
    assert!(err.to_string().contains("interrupted"), "{err}");
    let loaded = perf_report::load_run(&config.output_dir, &outcome.result.run_id).unwrap();
    assert!(perf_suite::save_baseline(&config, "from_run", &loaded, true).is_err());
    assert!(!store.exists("from_run").unwrap());
}

/// Issue #16 D10: a `cmd:` bot that dies at start is reported with its exit code and the
/// end of its stderr, not as an address problem.
#[cfg(unix)]
#[tokio::test]
async fn a_child_bot_that_crashes_at_start_says_how_it_ended() {
    let dir = tempfile::tempdir().unwrap();
    for (line, code) in [
        (
            "cmd:sh -c 'echo first line >&2; echo boom-from-bot >&2; exit 3'",
            "exit code 3",
        ),
        // Dies after the start-up check, when the first query is sent.
        (
            "cmd:sh -c 'sleep 1; echo late-boom >&2; exit 4'",
            "exit code 4",
        ),
    ] {
        let mut config = Config::small(dir.path());
        config.set_target_flag(line).unwrap();
        let msg = run_suite(&config, None, CancellationToken::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(msg.contains(code), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(!msg.contains("address"), "{msg}");
    }
}
