//! The configuration's tests: the original example, strict keys, validation, flags.

use super::*;

/// The configuration example from the original suite's README, verbatim.
const ORIGINAL_EXAMPLE: &str = r#"{
  "database_path": "data/discord_messages.db",
  "query_count": 50,
  "save_intermediate_results": true,
  
  "parallel_execution": {
    "enabled": true,
    "max_concurrent": 5,
    "rate_limit_per_second": 10
  },
  
  "performance_baselines": {
    "enabled": true,
    "baseline_threshold": 0.15,
    "auto_update_baselines": false,
    "baseline_name": "production_baseline"
  },
  
  "regression_testing": {
    "enabled": true,
    "critical_paths": [
      "server_analysis",
      "semantic_search",
      "user_analysis",
      "digest_generation"
    ]
  },
  
  "synthetic_testing": {
    "enabled": true,
    "edge_cases": true,
    "stress_scenarios": true,
    "load_testing": true
  },
  
  "resource_monitoring": {
    "enabled": true,
    "monitoring_interval": 1.0
  }
}"#;

fn parse(text: &str) -> Result<Config, String> {
    Config::parse(text, Path::new("suite.json")).map_err(|e| e.to_string())
}

#[test]
fn the_original_example_parses_to_the_defaults() {
    let c = parse(ORIGINAL_EXAMPLE).unwrap();
    // The example names the critical paths, which the parsed configuration remembers
    // (a questions file's categories then do not replace them).
    assert!(c.regression_testing.critical_paths_given);
    let mut defaults = Config::default();
    defaults.regression_testing.critical_paths_given = true;
    assert_eq!(c, defaults);
    assert!(!parse("{}").unwrap().regression_testing.critical_paths_given);
    assert_eq!(c.parallel_execution.rate_limit_per_second, Some(10.0));
    assert_eq!(c.regression_testing.critical_paths.len(), 4);
}

#[test]
fn a_misspelled_key_is_rejected_with_a_suggestion() {
    let e = parse(r#"{"parallel_execution": {"max_concurent": 3}}"#).unwrap_err();
    assert!(e.contains("suite.json"), "{e}");
    assert!(e.contains("`parallel_execution.max_concurent`"), "{e}");
    assert!(e.contains("did you mean `max_concurrent`"), "{e}");
    let e = parse(r#"{"query_cont": 3}"#).unwrap_err();
    assert!(
        e.contains("at the top level") && e.contains("`query_count`"),
        "{e}"
    );
    let e = parse(r#"{"zzzzzzzzzz": 3}"#).unwrap_err();
    assert!(e.contains("known keys there"), "{e}");
}

#[test]
fn streaming_limits_parse_and_misspellings_get_a_suggestion() {
    let c = parse(
            r#"{"regression_testing": {"limits": {"max_p95_ms": 500, "max_ttft_p95_ms": 300, "max_itl_p95_ms": 40}}}"#,
        )
        .unwrap();
    let l = &c.regression_testing.limits;
    assert_eq!(l.max_p95_ms, Some(500.0));
    assert_eq!(l.max_ttft_p95_ms, Some(300.0));
    assert_eq!(l.max_itl_p95_ms, Some(40.0));
    let e = parse(r#"{"regression_testing": {"limits": {"max_ttft_p59_ms": 300}}}"#).unwrap_err();
    assert!(
        e.contains("`regression_testing.limits.max_ttft_p59_ms`")
            && e.contains("did you mean `max_ttft_p95_ms`"),
        "{e}"
    );
    let e = parse(r#"{"regression_testing": {"limits": {"max_ttft_p95_ms": 0}}}"#).unwrap_err();
    assert!(
        e.contains("regression_testing.limits.max_ttft_p95_ms"),
        "{e}"
    );
    // Unset limits stay out of the effective configuration (and its digest).
    let defaults = serde_json::to_string(&Config::default()).unwrap();
    assert!(!defaults.contains("ttft"), "{defaults}");
}

#[test]
fn bad_values_name_the_key() {
    let e = parse(r#"{"parallel_execution": {"max_concurrent": 0}}"#).unwrap_err();
    assert!(e.contains("parallel_execution.max_concurrent"), "{e}");
    let e = parse(r#"{"parallel_execution": {"rate_limit_per_second": -2}}"#).unwrap_err();
    assert!(e.contains("rate_limit_per_second"), "{e}");
    let e = parse(r#"{"query_count": "many"}"#).unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    let e = parse("{not json").unwrap_err();
    assert!(e.contains("not valid JSON"), "{e}");
    let e = parse(r#"{"performance_baselines": {"baseline_name": "../x"}}"#).unwrap_err();
    assert!(e.contains("baseline_name"), "{e}");
    // Seconds that become durations are bounded: 1e300 is an error, not a panic.
    for key in ["query_timeout", "grace_period"] {
        let e = parse(&format!(r#"{{"{key}": 1e300}}"#)).unwrap_err();
        assert!(e.contains(key) && e.contains("allowed"), "{e}");
    }
    let e = parse(r#"{"resource_monitoring": {"monitoring_interval": 1e300}}"#).unwrap_err();
    assert!(e.contains("resource_monitoring.monitoring_interval"), "{e}");
}

/// Issue #16 D10: the shape of the document is checked before serde reads it.
#[test]
fn arrays_and_scalars_where_objects_belong_are_errors_naming_the_key() {
    let e = parse(r#"["/nonexistent/x.db", 3]"#).unwrap_err();
    assert!(
        e.contains("must be a JSON object") && e.contains("an array"),
        "{e}"
    );
    let e = parse("3").unwrap_err();
    assert!(
        e.contains("must be a JSON object") && e.contains("a number"),
        "{e}"
    );
    for section in [
        "parallel_execution",
        "performance_baselines",
        "regression_testing",
        "synthetic_testing",
        "resource_monitoring",
        "refbot",
        "fixture",
        "resource_limits",
    ] {
        let e = parse(&format!(r#"{{"{section}": []}}"#)).unwrap_err();
        assert!(
            e.contains(&format!("`{section}` must be an object")),
            "{section}: {e}"
        );
    }
    let e = parse(r#"{"regression_testing": {"limits": [500]}}"#).unwrap_err();
    assert!(
        e.contains("`regression_testing.limits` must be an object"),
        "{e}"
    );
    let e = parse(r#"{"refbot": {"llm": [2]}}"#).unwrap_err();
    assert!(e.contains("`refbot.llm` must be an object"), "{e}");
    // Arrays stay arrays where the key is a list.
    parse(r#"{"regression_testing": {"critical_paths": ["semantic_search"]}}"#).unwrap();
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let c = parse("\u{feff}{\"query_count\": 7}").unwrap();
    assert_eq!(c.query_count, 7);
}

/// Issue #16 D4: counts that size up-front allocations are bounded, with the key, the
/// value and the maximum in the message.
#[test]
fn counts_and_pacing_are_bounded() {
    let e = parse(r#"{"query_count": 18446744073709551615}"#).unwrap_err();
    assert!(
        e.contains("query_count") && e.contains("18446744073709551615") && e.contains("1000000"),
        "{e}"
    );
    let e = parse(r#"{"query_count": 1000000000000}"#).unwrap_err();
    assert!(
        e.contains("query_count") && e.contains("1 to 1000000"),
        "{e}"
    );
    parse(r#"{"query_count": 1000000, "parallel_execution": {"rate_limit_per_second": null}}"#)
        .unwrap();
    let e = parse(r#"{"query_count": -1}"#).unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    let e = parse(r#"{"parallel_execution": {"max_concurrent": 10001}}"#).unwrap_err();
    assert!(
        e.contains("parallel_execution.max_concurrent") && e.contains("10000"),
        "{e}"
    );
    let e = parse(r#"{"parallel_execution": {"rate_limit_per_second": 1e-6}}"#).unwrap_err();
    assert!(
        e.contains("rate_limit_per_second") && e.contains("0.001"),
        "{e}"
    );
    // 50 queries at 0.001/s is 50,000 s (inside a day); 100 at 0.001/s is not.
    parse(r#"{"parallel_execution": {"rate_limit_per_second": 0.001}}"#).unwrap();
    let e =
        parse(r#"{"query_count": 100, "parallel_execution": {"rate_limit_per_second": 0.001}}"#)
            .unwrap_err();
    assert!(e.contains("100000 s") && e.contains("query_count"), "{e}");
    assert_eq!(
            Config::check_count_flag("--max-queries", 1_000_000_000_000, MAX_QUERY_COUNT)
                .unwrap_err()
                .to_string(),
            "invalid value for `--max-queries`: 1000000000000 is out of range: give a whole number from 1 to 1000000"
        );
}

/// Issue #16 D10: values that parsed but meant nothing.
#[test]
fn negative_limits_empty_paths_and_bad_baseline_names_are_errors() {
    let e = parse(r#"{"regression_testing": {"limits": {"max_p95_ms": -5}}}"#).unwrap_err();
    assert!(
        e.contains("regression_testing.limits.max_p95_ms") && e.contains("-5"),
        "{e}"
    );
    let e = parse(r#"{"regression_testing": {"critical_paths": ["semantic_search", " "]}}"#)
        .unwrap_err();
    assert!(
        e.contains("regression_testing.critical_paths[1]") && e.contains("empty"),
        "{e}"
    );
    let long = "a".repeat(300);
    for bad in ["..", "a/b", "a\\b", long.as_str(), ""] {
        let e = parse(&format!(
            r#"{{"performance_baselines": {{"baseline_name": "{bad}"}}}}"#
        ))
        .unwrap_err();
        assert!(
            e.contains("performance_baselines.baseline_name")
                && e.contains("at most 100 characters"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn config_files_are_read_with_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    let e = Config::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory"), "{e}");
    #[cfg(unix)]
    {
        let e = Config::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/dev/zero") && e.contains("not a regular file"),
            "{e}"
        );
    }
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(MAX_CONFIG_FILE_BYTES + 1).unwrap();
    let e = Config::load(&big).unwrap_err().to_string();
    assert!(e.contains("big.json") && e.contains("16 MiB"), "{e}");
}

#[test]
fn the_history_is_a_path_or_a_url_and_never_holds_a_password() {
    use perf_baseline::HistoryLocation;
    let c = parse("{}").unwrap();
    assert!(!c.shared_history());
    assert_eq!(
        c.history_location().unwrap(),
        HistoryLocation::Sqlite("data/history.db".into())
    );
    let c = parse(r#"{"history_url": "postgres://perf@db.example/perf"}"#).unwrap();
    assert!(c.shared_history());
    assert_eq!(
        c.history_location().unwrap().to_string(),
        "postgres://[redacted]@db.example/perf"
    );
    let c = parse(r#"{"history_url": "sqlite://shared/h.db"}"#).unwrap();
    assert_eq!(
        c.history_location().unwrap(),
        HistoryLocation::Sqlite("shared/h.db".into())
    );
    let e = parse(r#"{"history_url": "postgres://perf:hunter2@db.example/perf"}"#).unwrap_err();
    assert!(
        e.contains("suite.json") && e.contains("`history_url`"),
        "{e}"
    );
    assert!(e.contains("PGPASSWORD") && !e.contains("hunter2"), "{e}");
    let e = parse(r#"{"history_url": "x.db", "history_url_env": "H"}"#).unwrap_err();
    assert!(e.contains("not both"), "{e}");
    let e = parse(r#"{"history_url_env": "not a name"}"#).unwrap_err();
    assert!(e.contains("history_url_env"), "{e}");
    let e = parse(r#"{"history_urls": "x.db"}"#).unwrap_err();
    assert!(e.contains("did you mean `history_url`"), "{e}");

    // The variable is read when the history is opened; a password there is fine.
    let var = "PERF_SUITE_CONFIG_TEST_HISTORY_URL";
    let c = parse(&format!(r#"{{"history_url_env": "{var}"}}"#)).unwrap();
    let e = c.history_location().unwrap_err().to_string();
    assert!(e.contains(var) && e.contains("not set"), "{e}");
    std::env::set_var(var, "postgres://perf:hunter2@db.example/perf");
    let shown = c.history_location().unwrap().to_string();
    std::env::remove_var(var);
    assert_eq!(shown, "postgres://[redacted]@db.example/perf");

    // The flag replaces the file's setting and is checked under its own name.
    let mut c = parse(&format!(r#"{{"history_url_env": "{var}"}}"#)).unwrap();
    c.set_history_url_flag("postgres://db.example/other")
        .unwrap();
    assert_eq!(c.history_url_env, None);
    assert_eq!(
        c.history_location().unwrap().to_string(),
        "postgres://db.example/other"
    );
    let e = c
        .set_history_url_flag("postgresql://u:hunter2@db.example/x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("--history-url") && !e.contains("hunter2"), "{e}");
    // Where the history lives is no setting of the test: the digest ignores it.
    let plain = serde_json::to_value(Config::default()).unwrap();
    let shared = Config {
        history_url: Some("postgres://db.example/perf".into()),
        ..Config::default()
    };
    assert_eq!(
        perf_baseline::config_digest(&plain),
        perf_baseline::config_digest(&serde_json::to_value(&shared).unwrap())
    );
}

#[test]
fn partial_files_keep_the_other_defaults() {
    let c = parse(r#"{"query_count": 8, "parallel_execution": {"rate_limit_per_second": null}}"#)
        .unwrap();
    assert_eq!(c.query_count, 8);
    assert_eq!(c.parallel_execution.rate_limit_per_second, None);
    assert_eq!(c.parallel_execution.max_concurrent, 5);
}

#[test]
fn the_refbot_llm_section_turns_the_mode_on_and_is_checked() {
    assert_eq!(Config::default().refbot.llm, None, "off by default");
    let c = parse(r#"{"refbot": {"llm": {}}}"#).unwrap();
    assert_eq!(c.refbot.llm, Some(perf_refbot::LlmConfig::default()));
    let c = parse(
        r#"{"refbot": {"llm": {"slots": 2, "time_scale": 0.01,
                "agents": {"semantic_search": {"ttft": 0.5, "token_gap": 0.01, "tokens": 40}}}}}"#,
    )
    .unwrap();
    let llm = c.refbot.llm.unwrap();
    assert_eq!((llm.slots, llm.time_scale), (2, 0.01));
    assert_eq!(llm.agents.semantic_search.tokens, 40);
    let e = parse(r#"{"refbot": {"llm": {"slotz": 2}}}"#).unwrap_err();
    assert!(
        e.contains("`refbot.llm.slotz`") && e.contains("did you mean `slots`"),
        "{e}"
    );
    let e = parse(r#"{"refbot": {"llm": {"agents": {"semantic_search": {"tokenz": 1}}}}}"#)
        .unwrap_err();
    assert!(
        e.contains("refbot.llm.agents.semantic_search.tokenz"),
        "{e}"
    );
    let e = parse(r#"{"refbot": {"llm": {"slots": 0}}}"#).unwrap_err();
    assert!(e.contains("refbot.llm.slots"), "{e}");
    let e = parse(r#"{"refbot": {"llm": {"time_scale": -1}}}"#).unwrap_err();
    assert!(e.contains("refbot.llm.time_scale"), "{e}");
}

#[test]
fn the_wrong_rate_is_a_share_and_bad_values_name_the_key() {
    assert_eq!(Config::default().refbot.wrong_rate, 0.0);
    let c = parse(r#"{"refbot": {"wrong_rate": 0.2, "llm": {}}}"#).unwrap();
    assert_eq!(c.refbot.wrong_rate, 0.2);
    for bad in ["1.5", "-0.2"] {
        let e = parse(&format!(r#"{{"refbot": {{"wrong_rate": {bad}}}}}"#)).unwrap_err();
        assert!(
            e.contains("refbot.wrong_rate") && e.contains("between 0 and 1"),
            "{e}"
        );
    }
    let e = parse(r#"{"refbot": {"wrong_rat": 0.2}}"#).unwrap_err();
    assert!(e.contains("did you mean `wrong_rate`"), "{e}");
}

mod slo_tests {
    use super::super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("suite.json")).map_err(|e| e.to_string())
    }

    #[test]
    fn the_slos_section_parses_and_bad_or_contradictory_values_are_named() {
        let c = parse(r#"{"slos": {"latency_p95_ms": 2000, "quality_floor": 0.9}}"#).unwrap();
        assert_eq!(c.slos.latency_p95_ms, Some(2000.0));
        assert_eq!(c.slos.quality_floor, Some(0.9));
        assert_eq!(c.slos.ttft_p95_ms, None);
        let e = parse(r#"{"slos": {"latency_p59_ms": 2000}}"#).unwrap_err();
        assert!(
            e.contains("slos.latency_p59_ms") && e.contains("did you mean"),
            "{e}"
        );
        let e = parse(r#"{"slos": {"latency_p95_ms": 2000, "latency_p99_ms": 500}}"#).unwrap_err();
        assert!(e.contains("slos.latency_p99_ms"), "{e}");
        let e = parse(r#"{"slos": {"success_rate": 0}}"#).unwrap_err();
        assert!(e.contains("slos.success_rate"), "{e}");
        // Unset SLOs stay out of the effective configuration.
        let defaults = serde_json::to_string(&Config::default()).unwrap();
        assert!(!defaults.contains("slos"), "{defaults}");
    }
}
