//! Baseline files on disk: round trip, damaged and future files, crash leftovers, and the
//! phase-5 policy (missing, strict, auto-update).

use perf_baseline::{
    check_against_baseline, compare, BaselineAction, BaselineError, BaselinePolicy, BaselineStore,
    CompareOptions, MissingBaseline, Thresholds, UpdatePolicy, WriteMode, BASELINE_FORMAT_VERSION,
};
use perf_core::record::Verdict;

use super::{env, run};

#[test]
fn round_trip_and_compare_with_itself_passes() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path().join("baselines"));
    let r = run(1, 200, 1.0);
    let made = store
        .create_from_run("production_baseline", &r, env(), WriteMode::CreateNew)
        .unwrap();
    let loaded = store.load("production_baseline").unwrap();
    // Histograms and counts round-trip exactly; summary floats to the last digit or so
    // (serde_json's float parsing is not always correctly rounded).
    assert_eq!(loaded.overall.latency, made.overall.latency);
    assert_eq!(loaded.per_agent.len(), made.per_agent.len());
    for (k, g) in &made.per_agent {
        assert_eq!(loaded.per_agent[k].latency, g.latency);
        assert_eq!(loaded.per_agent[k].summary.count, g.summary.count);
        let (a, b) = (loaded.per_agent[k].summary.latency, g.summary.latency);
        assert!((a.stdev_ms - b.stdev_ms).abs() < 1e-9 && a.p95_ms == b.p95_ms);
    }
    assert_eq!(loaded.environment, made.environment);
    assert_eq!(loaded.created_at, made.created_at);
    assert_eq!(loaded.format_version, BASELINE_FORMAT_VERSION);
    assert_eq!(loaded.overall.summary.count, 200);
    assert_eq!(loaded.overall.latency.count(), 200);
    assert_eq!(loaded.per_agent.len(), 4);
    assert!((loaded.agent_distribution.values().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(loaded.config_digest.starts_with("fnv1a64:"));

    let c = compare(
        &loaded,
        &r,
        &env(),
        &Thresholds::default(),
        &CompareOptions::default(),
    )
    .unwrap();
    assert_eq!(c.overall, Verdict::Pass, "{c:#?}");
    assert!(c.environment_differences.is_empty());
    let median = c
        .verdicts
        .iter()
        .find(|v| v.key == "overall" && v.metric == "latency_median")
        .unwrap();
    assert_eq!(median.verdict, Verdict::Pass);
    assert!(median.relative_change.abs() < 1e-9);
    let (lo, hi) = median.interval.unwrap();
    assert!(lo < 0.0 && hi > 0.0);
    assert!(median.min_detectable_change.unwrap() < 0.15);

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "production_baseline");
    assert_eq!(list[0].queries, 200);
    assert!(list[0].problem.is_none());
}

#[test]
fn existing_baselines_are_replaced_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    store
        .create_from_run("b", &run(1, 50, 1.0), env(), WriteMode::CreateNew)
        .unwrap();
    let err = store
        .create_from_run("b", &run(2, 60, 1.0), env(), WriteMode::CreateNew)
        .unwrap_err();
    assert!(matches!(err, BaselineError::AlreadyExists { .. }), "{err}");
    assert_eq!(store.load("b").unwrap().overall.summary.count, 50);
    store
        .create_from_run("b", &run(2, 60, 1.0), env(), WriteMode::Replace)
        .unwrap();
    assert_eq!(store.load("b").unwrap().overall.summary.count, 60);
    assert!(matches!(
        store.load("../etc/passwd").unwrap_err(),
        BaselineError::InvalidName { .. }
    ));
}

#[test]
fn damaged_and_future_files_give_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    store
        .create_from_run("good", &run(1, 40, 1.0), env(), WriteMode::CreateNew)
        .unwrap();
    let good = std::fs::read_to_string(store.path_of("good").unwrap()).unwrap();
    let cases: [(&str, String); 5] = [
        ("truncated", good[..good.len() / 2].to_owned()),
        ("garbage", "\u{0}\u{1}not json at all".to_owned()),
        ("noversion", "{\"name\": \"x\"}".to_owned()),
        (
            "wrongshape",
            "{\"format_version\": 1, \"name\": 5}".to_owned(),
        ),
        (
            "badhistogram",
            good.replacen("\"latency\": [", "\"latency\": [[99999999999999, 1],", 1),
        ),
    ];
    for (name, text) in &cases {
        let path = store.path_of(name).unwrap();
        std::fs::write(&path, text).unwrap();
        let err = store.load(name).unwrap_err();
        assert!(
            matches!(err, BaselineError::Corrupt { .. }),
            "{name}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    let future = good.replacen("\"format_version\": 1", "\"format_version\": 99", 1);
    let path = store.path_of("future").unwrap();
    std::fs::write(&path, future).unwrap();
    let err = store.load("future").unwrap_err();
    assert!(
        matches!(err, BaselineError::UnsupportedVersion { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));

    // Listing still works and names the problems.
    let list = store.list().unwrap();
    assert_eq!(list.len(), 7);
    assert_eq!(list.iter().filter(|e| e.problem.is_some()).count(), 6);

    // Phase 5 reports the damaged file as an error, never a panic or a silent pass.
    let policy = BaselinePolicy {
        name: "truncated".into(),
        ..BaselinePolicy::default()
    };
    let err = check_against_baseline(&store, &run(3, 40, 1.0), &env(), &policy).unwrap_err();
    assert!(matches!(err, BaselineError::Corrupt { .. }));
}

#[test]
fn a_leftover_temporary_file_from_a_crash_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    store
        .create_from_run("b", &run(1, 40, 1.0), env(), WriteMode::CreateNew)
        .unwrap();
    // What a crash between write and rename leaves behind.
    std::fs::write(
        dir.path().join(".b.json.tmp-999-1"),
        "{\"format_version\": 1, \"na",
    )
    .unwrap();
    assert_eq!(store.load("b").unwrap().overall.summary.count, 40);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].problem.is_none());
    // And the next save still works.
    store
        .create_from_run("b", &run(2, 30, 1.0), env(), WriteMode::Replace)
        .unwrap();
    assert_eq!(store.load("b").unwrap().overall.summary.count, 30);
}

#[test]
fn missing_baseline_is_lenient_or_strict_never_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path().join("baselines"));
    let r = run(1, 100, 1.0);
    let lenient = BaselinePolicy {
        name: "production_baseline".into(),
        ..BaselinePolicy::default()
    };
    let out = check_against_baseline(&store, &r, &env(), &lenient).unwrap();
    assert!(out.passed);
    assert_eq!(out.action, BaselineAction::Missing);
    assert!(out.comparison.is_none());
    assert!(
        out.message.contains(
            "cargo run --release --bin orchestrator -- baseline create production_baseline"
        ),
        "{}",
        out.message
    );
    let strict = BaselinePolicy {
        missing: MissingBaseline::Strict,
        ..lenient.clone()
    };
    let out = check_against_baseline(&store, &r, &env(), &strict).unwrap();
    assert!(!out.passed);
    assert!(out.message.contains("baseline create"));
    assert!(!store.exists("production_baseline").unwrap());
}

#[test]
fn auto_update_creates_then_keeps_the_baseline_on_regression() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    let policy = BaselinePolicy {
        name: "auto".into(),
        update: UpdatePolicy::Auto,
        ..BaselinePolicy::default()
    };
    let first = run(1, 200, 1.0);
    let out = check_against_baseline(&store, &first, &env(), &policy).unwrap();
    assert_eq!(out.action, BaselineAction::Created);
    assert!(out.passed);
    assert_eq!(store.load("auto").unwrap().run_id, first.run_id);

    // A 60% slower run is a regression and must not become the reference.
    let slow = run(2, 200, 1.6);
    let out = check_against_baseline(&store, &slow, &env(), &policy).unwrap();
    assert!(!out.passed);
    assert_eq!(out.action, BaselineAction::Compared);
    assert_eq!(
        out.comparison.as_ref().unwrap().overall,
        Verdict::Regression
    );
    assert_eq!(store.load("auto").unwrap().run_id, first.run_id);

    // A run like the first one replaces it.
    let same = run(3, 200, 1.0);
    let out = check_against_baseline(&store, &same, &env(), &policy).unwrap();
    assert!(out.passed, "{}", out.message);
    assert_eq!(out.action, BaselineAction::Updated);
    assert_eq!(store.load("auto").unwrap().run_id, same.run_id);

    // An explicit update replaces it whatever the verdict.
    let always = BaselinePolicy {
        update: UpdatePolicy::Always,
        ..policy
    };
    let out = check_against_baseline(&store, &slow, &env(), &always).unwrap();
    assert_eq!(out.action, BaselineAction::Updated);
    assert_eq!(store.load("auto").unwrap().run_id, slow.run_id);
}

#[test]
fn streaming_histograms_are_stored_only_when_something_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path().join("baselines"));
    let streamed = super::streaming_run(1, 200, 200.0);
    let made = store
        .create_from_run("streamed", &streamed, env(), WriteMode::CreateNew)
        .unwrap();
    assert_eq!(made.overall.ttft.count(), 200);
    assert_eq!(made.overall.itl.count(), 200);
    assert_eq!(made.overall.tpot.count(), 200);
    let loaded = store.load("streamed").unwrap();
    assert_eq!(loaded.overall.ttft, made.overall.ttft);
    assert_eq!(loaded.overall.itl, made.overall.itl);
    assert_eq!(loaded.overall.tpot, made.overall.tpot);
    for (k, g) in &made.per_agent {
        assert_eq!(loaded.per_agent[k].ttft, g.ttft, "{k}");
    }
    let ttft = loaded.overall.summary.ttft.expect("a TTFT summary");
    assert!((ttft.p50_ms - 200.0).abs() < 20.0, "{ttft:?}");

    // A run that streamed nothing writes the file it always wrote.
    store
        .create_from_run("plain", &run(1, 200, 1.0), env(), WriteMode::CreateNew)
        .unwrap();
    let text = std::fs::read_to_string(store.path_of("plain").unwrap()).unwrap();
    for key in ["ttft", "itl", "tpot", "output_tokens_per_s"] {
        assert!(!text.contains(&format!("\"{key}\"")), "{key} in {text}");
    }
    assert!(store.load("plain").unwrap().overall.ttft.is_empty());
}

/// Issue #16 D2: an interrupted run never creates or replaces a baseline, by any path
/// (auto-update, an explicit update, `create_from_run`, `save` of a baseline made from it).
#[test]
fn an_interrupted_run_never_becomes_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    let mut partial = run(9, 50, 1.0);
    partial.interrupted = true;
    for update in [UpdatePolicy::Auto, UpdatePolicy::Always] {
        let policy = BaselinePolicy {
            name: "auto".into(),
            update,
            ..BaselinePolicy::default()
        };
        let out = check_against_baseline(&store, &partial, &env(), &policy).unwrap();
        assert_eq!(out.action, BaselineAction::Missing, "{update:?}");
        assert!(out.message.contains("interrupted"), "{}", out.message);
        assert!(!store.exists("auto").unwrap(), "{update:?} created it");
    }
    let err = store
        .create_from_run("auto", &partial, env(), WriteMode::Replace)
        .unwrap_err();
    assert!(matches!(err, BaselineError::IncompleteRun { .. }), "{err}");
    assert!(err.to_string().contains(&partial.run_id), "{err}");
    let made = perf_baseline::Baseline::from_run("auto", &partial, env());
    assert!(store.save(&made, WriteMode::Replace).is_err());
    assert!(!store.exists("auto").unwrap());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left"
    );

    // An existing baseline is kept, and the comparison still happens.
    let complete = run(1, 200, 1.0);
    store
        .create_from_run("auto", &complete, env(), WriteMode::CreateNew)
        .unwrap();
    let always = BaselinePolicy {
        name: "auto".into(),
        update: UpdatePolicy::Always,
        ..BaselinePolicy::default()
    };
    let out = check_against_baseline(&store, &partial, &env(), &always).unwrap();
    assert_eq!(out.action, BaselineAction::Compared);
    assert!(out.comparison.is_some());
    assert!(
        out.message.contains("interrupted run does not replace"),
        "{}",
        out.message
    );
    assert_eq!(store.load("auto").unwrap().run_id, complete.run_id);
}

/// A baseline belongs to its bot: a new version of the same bot compares, another bot is
/// refused (before the run by `refuse_other_target`, and again by phase 5), unless allowed
/// or replacing the baseline anyway.
#[test]
fn a_baseline_of_another_target_is_refused_and_a_new_version_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = BaselineStore::new(dir.path());
    store
        .create_from_run("b", &run(1, 40, 1.0), env(), WriteMode::CreateNew)
        .unwrap();
    let policy = BaselinePolicy {
        name: "b".into(),
        ..BaselinePolicy::default()
    };
    let newer = perf_core::TargetInfo {
        name: "refbot".into(),
        version: Some("9.9.9".into()),
        transport: perf_core::Transport::InProcess,
    };
    perf_baseline::refuse_other_target(&store, &policy, &newer).unwrap();
    let newer_env = perf_baseline::EnvironmentFingerprint::detect(&newer, "0.1.0");
    check_against_baseline(&store, &run(2, 40, 1.0), &newer_env, &policy).unwrap();

    let other = perf_core::TargetInfo {
        name: "http://127.0.0.1:8080/chat".into(),
        version: None,
        transport: perf_core::Transport::Http,
    };
    let err = perf_baseline::refuse_other_target(&store, &policy, &other).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("recorded from `refbot (in_process)`")
            && text.contains("this run is of `http://127.0.0.1:8080/chat (http)`"),
        "{text}"
    );
    let other_env = perf_baseline::EnvironmentFingerprint::detect(&other, "0.1.0");
    let err = check_against_baseline(&store, &run(2, 40, 1.0), &other_env, &policy).unwrap_err();
    assert!(matches!(err, BaselineError::OtherTarget { .. }), "{err}");

    for allowed in [
        BaselinePolicy {
            allow_other_target: true,
            ..policy.clone()
        },
        BaselinePolicy {
            update: UpdatePolicy::Always,
            ..policy.clone()
        },
    ] {
        perf_baseline::refuse_other_target(&store, &allowed, &other).unwrap();
    }
    // No baseline yet: nothing to refuse.
    let missing = BaselinePolicy {
        name: "none".into(),
        ..BaselinePolicy::default()
    };
    perf_baseline::refuse_other_target(&store, &missing, &other).unwrap();
}
