//! Issue #16 property tests: random JSON documents, and mutated copies of the example
//! configurations, never panic the config loader; each gives a configuration that
//! validates or a clean error naming the file.

use std::path::{Path, PathBuf};

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

/// A real pair of shard results, written once per case into a fresh directory: the
/// first stays valid, the second is replaced by the case's document.
fn shard_pair(dir: &Path) -> (PathBuf, PathBuf, Value) {
    use crate::distributed::{sample, split, write_shard};
    let samples: Vec<perf_core::Sample> = (0..60).map(sample).collect();
    let parts = split(&samples, 2);
    let a = write_shard(dir, 1, 2, &parts[0]).join("report.json");
    let b = write_shard(dir, 2, 2, &parts[1]).join("report.json");
    let valid = serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    (a, b, valid)
}

/// Values a hostile or damaged file puts where a number, a string or a histogram was.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(0)),
        Just(Value::from(-1)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(4_294_967_295u64)),
        Just(Value::from(10_000_000u64)),
        Just(Value::from(-0.0)),
        Just(Value::from(1e308)),
        Just(Value::from(-1e308)),
        Just(Value::from(5e-324)),
        Just(Value::Null),
        Just(Value::from("")),
        Just(Value::from("HISTFAAAA")),
        Just(serde_json::json!([[3_600_000_000u64, u64::MAX]])),
        json(),
    ]
}

/// Byte edits of a base64 histogram string: decoded, bytes overwritten, encoded again.
fn mutate_histogram(text: &str, edits: &[(usize, u8)]) -> Option<String> {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(text).ok()?;
    if bytes.is_empty() {
        return None;
    }
    for &(at, b) in edits {
        let i = at % bytes.len();
        bytes[i] = b;
    }
    Some(engine.encode(bytes))
}

/// The `n`-th string of `v` that decodes as base64 (a histogram), replaced by `f` of it.
fn edit_nth_histogram(v: &mut Value, n: &mut usize, f: &dyn Fn(&str) -> Option<String>) -> bool {
    match v {
        Value::String(s) if s.starts_with("HIST") => {
            if *n == 0 {
                if let Some(new) = f(s) {
                    *s = new;
                }
                return true;
            }
            *n -= 1;
            false
        }
        Value::Object(map) => map.values_mut().any(|c| edit_nth_histogram(c, n, f)),
        Value::Array(items) => items.iter_mut().any(|c| edit_nth_histogram(c, n, f)),
        _ => false,
    }
}

/// Reads `b` as the merge does and merges it with `a`; on success, checks the
/// structural bounds: groups and timeline buckets within the caps, and histograms no
/// more than one per 16 bytes of the file (the shortest histogram, `[]`, and the keys
/// around it take more than that).
fn read_and_merge(a: &Path, b: &Path) -> Result<(), String> {
    let len = std::fs::metadata(b).map_err(|e| e.to_string())?.len() as usize;
    if let Ok(perf_suite::ShardHeader::Shard(_)) = perf_suite::read_shard_header(b) {
        if let Ok(r) = perf_suite::read_shard_report(b) {
            let groups = 1 + r.per_agent.len() + r.per_category.len() + r.per_scenario.len();
            let histograms = 5 * groups + r.timeline.buckets.len() + 1;
            if groups > 3 * perf_suite::MAX_SHARD_GROUPS + 1
                || r.timeline.buckets.len() > perf_core::record::MAX_TIMELINE_BUCKETS
                || histograms > len / 16 + 8
            {
                return Err(format!(
                    "{groups} groups, {} buckets, {histograms} histograms from {len} bytes",
                    r.timeline.buckets.len()
                ));
            }
        }
    }
    match perf_suite::merge_shards(&[a.to_owned(), b.to_owned()], "m") {
        Ok(m) => {
            if m.timeline.buckets.len() > perf_core::record::MAX_TIMELINE_BUCKETS {
                return Err(format!("{} merged buckets", m.timeline.buckets.len()));
            }
            let missing = m.merge.as_ref().map_or(0, |i| i.missing.len());
            if missing > perf_core::MAX_SHARDS as usize {
                return Err(format!("{missing} missing shards listed"));
            }
            Ok(())
        }
        Err(e) => {
            let text = e.to_string();
            if text.is_empty() {
                Err("an empty refusal".to_owned())
            } else {
                Ok(())
            }
        }
    }
}

/// Runs `read_and_merge` on a thread and waits for it to finish: a loop (the width-0
/// timeline did) fails the case instead of hanging the suite. The wait is a bound on
/// finishing, not a speed measurement: a case takes milliseconds.
fn finishes(a: PathBuf, b: PathBuf) -> Result<(), TestCaseError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(read_and_merge(&a, &b));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TestCaseError::fail(e)),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(TestCaseError::fail("the merge did not finish: a loop"))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            Err(TestCaseError::fail("the merge panicked"))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Issue #28 item 2: a real shard report with one value replaced (numbers, fields,
    /// histograms) never panics the merge's reader, never makes it build more groups,
    /// buckets or histograms than its size allows, and always finishes.
    #[test]
    fn mutated_shard_reports_are_read_within_bounds(
        pick in 0usize..400,
        new in hostile_value(),
        hist in 0usize..40,
        hist_edits in prop::collection::vec((0usize..200, any::<u8>()), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, mut doc) = shard_pair(dir.path());
        let mut n = pick;
        mutate(&mut doc, &mut n, &new);
        let mut h = hist;
        edit_nth_histogram(&mut doc, &mut h, &|s| mutate_histogram(s, &hist_edits));
        std::fs::write(&b, doc.to_string()).unwrap();
        finishes(a, b)?;
    }

    /// The same with bytes of the file overwritten (damage below the JSON level) or a
    /// random document in its place.
    #[test]
    fn damaged_or_random_shard_files_are_read_within_bounds(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        random in prop::option::of(json()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, doc) = shard_pair(dir.path());
        let mut bytes = match random {
            Some(r) => r.to_string().into_bytes(),
            None => doc.to_string().into_bytes(),
        };
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        std::fs::write(&b, bytes).unwrap();
        finishes(a, b)?;
    }
}
