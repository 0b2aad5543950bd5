//! Issue #28: the baseline reader against files an attacker (or a bad merge, a disk, a
//! careless edit) can write. Random and mutated baselines never panic the reader, never
//! make it allocate past a bound proportional to the file's size, and never loop.
//!
//! A test binary of its own with one test, so the process's peak resident memory
//! (`VmHWM`) is this test's alone.

use std::path::Path;

use perf_baseline::parse_baseline;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

/// A real baseline, the one CI gates with.
const SEED: &str = include_str!("../../../baselines/ci_gate.json");

/// Peak resident memory of this process so far, bytes (`None` off Linux).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Paths to every number in `v`.
fn number_paths(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Number(_) => out.push(at.clone()),
        Value::Object(m) => {
            for (k, x) in m {
                at.push(k.clone());
                number_paths(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(i.to_string());
                number_paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn set_at(v: &mut Value, path: &[String], new: Value) {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => match m.get_mut(p) {
                Some(x) => x,
                None => return,
            },
            Value::Array(a) => match p.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(x) => x,
                None => return,
            },
            _ => return,
        };
    }
    *cur = new;
}

/// Values a hostile file puts where numbers belong.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(serde_json::json!(0)),
        Just(serde_json::json!(-1)),
        Just(serde_json::json!(4_294_967_295u64)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(1e300)),
        Just(serde_json::json!(-1e300)),
        Just(serde_json::json!(3_600_000_000u64)),
        Just(serde_json::json!(7_200_000_000u64)),
        Just(serde_json::json!("12")),
        Just(Value::Null),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
    ]
}

/// A baseline as hostile bytes: the real one with numbers replaced, with a flood of
/// groups whose histograms span the whole range, cut short, or with bytes flipped.
fn hostile_baseline() -> impl Strategy<Value = Vec<u8>> {
    let seed: Value = serde_json::from_str(SEED).expect("the committed baseline parses");
    let mut paths = Vec::new();
    number_paths(&seed, &mut Vec::new(), &mut paths);
    let n_paths = paths.len();
    let numbers = {
        let seed = seed.clone();
        proptest::collection::vec((0..n_paths, hostile_value()), 1..12).prop_map(move |edits| {
            let mut v = seed.clone();
            for (i, new) in edits {
                set_at(&mut v, &paths[i], new);
            }
            serde_json::to_vec(&v).unwrap_or_default()
        })
    };
    let flood = {
        let seed = seed.clone();
        (1usize..3000, prop::bool::ANY).prop_map(move |(n, top)| {
            let mut v = seed.clone();
            let mut group = v["per_agent"]["semantic_search"].clone();
            let bucket = if top { 3_600_000_000u64 } else { 1 };
            group["latency"] = serde_json::json!([[1, 1], [bucket, 1]]);
            if let Some(m) = v["per_category"].as_object_mut() {
                for i in 0..n {
                    m.insert(format!("flood{i}"), group.clone());
                }
            }
            serde_json::to_vec(&v).unwrap_or_default()
        })
    };
    let cut = (0..SEED.len()).prop_map(|at| SEED.as_bytes()[..at].to_vec());
    let flipped =
        proptest::collection::vec((0..SEED.len(), any::<u8>()), 1..16).prop_map(|flips| {
            let mut b = SEED.as_bytes().to_vec();
            for (i, x) in flips {
                b[i] = x;
            }
            b
        });
    let random = proptest::collection::vec(any::<u8>(), 0..4096);
    prop_oneof![numbers, flood, cut, flipped, random]
}

#[test]
fn hostile_baselines_never_panic_loop_or_allocate_past_a_bound() {
    let before = peak_rss();
    let largest = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&hostile_baseline(), |bytes| {
            largest.set(largest.get().max(bytes.len()));
            // Ok or an error that names the file; a panic fails the case.
            if let Err(e) = parse_baseline(Path::new("hostile.json"), &bytes) {
                prop_assert!(e.to_string().contains("hostile.json"), "{e}");
            }
            Ok(())
        })
        .unwrap();
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        // serde_json's `Value` of a file takes a few times its size, and the histograms
        // at most their budget (128 MiB): each group's histogram spans up to an hour,
        // about 200 KiB, so a flood of groups in a 2 MB file took 683 MiB before.
        let largest = largest.get();
        let bound = 160 * 1024 * 1024 + 40 * largest as u64;
        let grew = after.saturating_sub(before);
        assert!(
            grew <= bound,
            "peak memory grew by {} MiB reading files of at most {} KiB (bound {} MiB)",
            grew >> 20,
            largest >> 10,
            bound >> 20
        );
    }
}
