//! Issue #28: the scenario-file reader against files an attacker or a careless edit can
//! write. Random and mutated copies of the example scenario files never panic the reader
//! or the query generation, never make more than the file bounds allow, and never loop.
//!
//! A test binary of its own with one test, so the process's peak resident memory
//! (`VmHWM`) is this test's alone.

use std::path::Path;

use perf_core::{ContentProfile, Scenario as _};
use perf_synth::{ScenarioFile, MAX_FILE_QUERIES, MAX_FILE_QUERY_BYTES};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

const SEEDS: [&str; 3] = [
    include_str!("../../../examples/scenarios/llm-overload.json"),
    include_str!("../../../examples/scenarios/release-smoke.json"),
    include_str!("../../../examples/scenarios/search-ramp.json"),
];

/// Peak resident memory of this process so far, bytes (`None` off Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Replaces the `n`-th scalar (number, string, bool, null) of `v`, in document order.
fn replace_nth_scalar(v: &mut Value, n: &mut usize, new: &Value) -> bool {
    match v {
        Value::Object(m) => m.values_mut().any(|x| replace_nth_scalar(x, n, new)),
        Value::Array(a) => a.iter_mut().any(|x| replace_nth_scalar(x, n, new)),
        _ => {
            if *n == 0 {
                *v = new.clone();
                true
            } else {
                *n -= 1;
                false
            }
        }
    }
}

fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(10_000)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(-1e-300)),
        Just(serde_json::json!("")),
        Just(serde_json::json!("{top_user}{channel}{unknown}{")),
        Just(Value::Null),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        ".{0,40}".prop_map(Value::String),
    ]
}

fn hostile_scenario() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Value> = SEEDS
        .iter()
        .map(|s| serde_json::from_str(s).expect("the example scenarios parse"))
        .collect();
    let values = (
        0..SEEDS.len(),
        proptest::collection::vec((0usize..400, hostile_value()), 1..8),
    )
        .prop_map(move |(which, edits)| {
            let mut v = seeds[which].clone();
            for (mut n, new) in edits {
                replace_nth_scalar(&mut v, &mut n, &new);
            }
            serde_json::to_vec(&v).unwrap_or_default()
        });
    let cut = (0..SEEDS.len(), any::<prop::sample::Index>()).prop_map(|(which, at)| {
        let b = SEEDS[which].as_bytes();
        b[..at.index(b.len())].to_vec()
    });
    let flipped = (
        0..SEEDS.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    )
        .prop_map(|(which, flips)| {
            let mut b = SEEDS[which].as_bytes().to_vec();
            for (i, x) in flips {
                let at = i.index(b.len());
                b[at] = x;
            }
            b
        });
    let random = proptest::collection::vec(any::<u8>(), 0..2048);
    prop_oneof![4 => values, 1 => cut, 2 => flipped, 1 => random]
}

#[test]
fn hostile_scenario_files_never_panic_loop_or_grow_past_their_bounds() {
    let before = peak_rss();
    let content = ContentProfile::default();
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&hostile_scenario(), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            match ScenarioFile::parse(&text, Path::new("hostile.json")) {
                Err(e) => prop_assert!(e.to_string().contains("hostile.json"), "{e}"),
                Ok(file) => {
                    let queries = file.queries(&content, 7);
                    prop_assert!(queries.len() as u64 <= MAX_FILE_QUERIES);
                    let made: usize = queries.iter().map(|q| q.text.len() + q.id.len()).sum();
                    prop_assert!(made as u64 <= MAX_FILE_QUERY_BYTES, "{made} bytes");
                    // A file that parses has a load profile that validates.
                    prop_assert!(file.load_profile().validate("load").is_ok());
                }
            }
            Ok(())
        })
        .unwrap();
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // The example files are a few KB; 10,000 repeats of one of their entries stay
        // well under this.
        let grew = after.saturating_sub(before);
        assert!(grew <= 256 << 20, "peak memory grew by {} MiB", grew >> 20);
    }
}
