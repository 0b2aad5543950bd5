//! Issue #16 property tests: random JSON documents, and mutated copies of the example
//! configurations, never panic the config loader; each gives a configuration that
//! validates or a clean error naming the file.

use std::path::Path;

use perf_suite::Config;
use proptest::prelude::*;
use serde_json::Value;

/// Keys the loader knows, so random documents reach past the unknown-key check.
const KEYS: &[&str] = &[
    "database_path",
    "query_count",
    "parallel_execution",
    "enabled",
    "max_concurrent",
    "rate_limit_per_second",
    "performance_baselines",
    "baseline_threshold",
    "auto_update_baselines",
    "baseline_name",
    "regression_testing",
    "critical_paths",
    "limits",
    "max_p95_ms",
    "synthetic_testing",
    "scale",
    "robustness_threshold",
    "resource_monitoring",
    "monitoring_interval",
    "query_timeout",
    "grace_period",
    "seed",
    "trend_runs",
    "refbot",
    "llm",
    "slots",
    "latency_scale",
    "error_rate",
    "fixture",
    "messages",
    "target",
    "type",
    "url",
    "resource_limits",
    "max_memory_mb",
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        Just(Value::from(1e300)),
        Just(Value::from(-5)),
        Just(Value::from(0)),
        Just(Value::from(1e-6)),
        Just(Value::from(u64::MAX)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        number(),
        "[a-z./\\\\ ]{0,12}".prop_map(Value::from),
        Just(Value::from("..")),
        Just(Value::from("")),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_owned),
                        "[a-z_]{1,8}"
                    ],
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Parses `text`: a panic fails the property; an error must name the file.
fn check(text: &str) -> Result<(), TestCaseError> {
    match Config::parse(text, Path::new("prop.json")) {
        Ok(c) => prop_assert!(c.validate().is_ok(), "loaded but invalid: {text}"),
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.contains("prop.json"), "{msg}");
            prop_assert!(!msg.trim().is_empty());
        }
    }
    Ok(())
}

fn examples() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            // Every example loads as it is.
            Config::parse(&text, &path).unwrap();
            out.push(v);
        }
    }
    assert!(out.len() >= 4, "{}", dir.display());
    out
}

/// Replaces the value at the `pick`-th node (depth first) with `new`.
fn mutate(v: &mut Value, pick: &mut usize, new: &Value) -> bool {
    if *pick == 0 {
        *v = new.clone();
        return true;
    }
    *pick -= 1;
    match v {
        Value::Object(map) => map.values_mut().any(|c| mutate(c, pick, new)),
        Value::Array(items) => items.iter_mut().any(|c| mutate(c, pick, new)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_documents_never_panic_the_loader(doc in json()) {
        check(&doc.to_string())?;
    }

    #[test]
    fn random_text_never_panics_the_loader(text in "\\PC{0,64}") {
        check(&text)?;
    }

    #[test]
    fn mutated_example_configs_never_panic_the_loader(
        which in any::<prop::sample::Index>(),
        pick in 0usize..64,
        new in json(),
        bom in any::<bool>(),
    ) {
        let all = examples();
        let mut doc = all[which.index(all.len())].clone();
        let mut n = pick;
        mutate(&mut doc, &mut n, &new);
        let text = doc.to_string();
        check(&text)?;
        if bom {
            check(&format!("\u{feff}{text}"))?;
        }
    }
}
