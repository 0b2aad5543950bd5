//! Scenario files: the shipped examples load and run through the registry; errors name
//! the file, line and field.

use perf_core::{Expectation, LoadProfile, Scenario};
use perf_synth::{ScenarioFile, ScenarioKind, ScenarioRegistry, SyntheticFlags, DEFAULT_SCALE};

use crate::support::{profile, workspace_root};

#[test]
fn shipped_examples_load() {
    let dir = workspace_root().join("examples/scenarios");
    let mut r = ScenarioRegistry::with_builtins();
    let names = r.load_paths(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(names, vec!["llm_overload", "release_smoke", "search_ramp"]);
    assert_eq!(r.kind_of("llm_overload"), Some(ScenarioKind::Custom));
    assert_eq!(r.kind_of("release_smoke"), Some(ScenarioKind::Custom));
    assert_eq!(r.kind_of("search_ramp"), Some(ScenarioKind::Load));

    let smoke = ScenarioFile::load(&dir.join("release-smoke.json")).unwrap();
    let q = smoke.queries(&profile(), 5);
    assert_eq!(q.len(), 6);
    assert_eq!(q[0].id, "release_smoke-0000");
    assert!(q[0].expectations.contains(&Expectation::AnswerContains {
        text: "general".into()
    }));
    assert_eq!(q[1].text, "What does alice usually talk about?");
    assert_eq!(q[5].id, "spoiler-search");
    assert!(q.iter().all(|q| q.expectations.len() >= 2));
    assert_eq!(smoke.load_profile(), LoadProfile::closed(2, Some(5.0)));

    // A custom scenario runs as declared; a file of kind `load` is scaled and obeys
    // `load_testing`.
    let plans = r
        .plans(&SyntheticFlags::default(), &profile(), 5, DEFAULT_SCALE)
        .unwrap();
    let smoke_plan = plans
        .iter()
        .find(|p| p.info.name == "release_smoke")
        .unwrap();
    assert_eq!(smoke_plan.scale, 1.0);
    assert!(smoke_plan.source.ends_with("release-smoke.json"));
    let ramp = plans.iter().find(|p| p.info.name == "search_ramp").unwrap();
    assert_eq!(ramp.scale, DEFAULT_SCALE);
    assert_eq!(
        ramp.load.duration(),
        Some(std::time::Duration::from_millis(1_200))
    );
    assert!(ramp.queries.len() < 200);
    let no_load = SyntheticFlags {
        load_testing: false,
        ..SyntheticFlags::default()
    };
    let names: Vec<String> = r
        .plans(&no_load, &profile(), 5, 1.0)
        .unwrap()
        .into_iter()
        .map(|p| p.info.name)
        .collect();
    assert!(names.contains(&"release_smoke".to_owned()));
    assert!(!names.contains(&"search_ramp".to_owned()));

    // Loading the same directory twice is refused: names are keys.
    let err = r.load_paths(&[dir]).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn a_bad_file_is_named_with_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("typo.json");
    std::fs::write(
        &bad,
        "{\n  \"format_version\": 1,\n  \"name\": \"typo\",\n  \"queries\": [\n    {\n      \"text\": \"hi\",\n      \"expected_agnet\": \"server_analysis\"\n    }\n  ]\n}\n",
    )
    .unwrap();
    let mut r = ScenarioRegistry::empty();
    let err = r
        .load_paths(&[dir.path().to_owned()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("typo.json:7:"), "{err}");
    assert!(err.contains("`queries[0]`"), "{err}");
    assert!(err.contains("unknown field `expected_agnet`"), "{err}");
    assert!(err.contains("did you mean `expected_agent`?"), "{err}");
    assert!(r.is_empty());

    let missing = dir.path().join("absent.json");
    let err = r.load_file(&missing).unwrap_err().to_string();
    assert!(err.contains("absent.json"), "{err}");
}
