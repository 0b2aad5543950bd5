use std::path::{Path, PathBuf};

use perf_core::{
    CheckGroup, ErrorKind, Outcome, RunResult, Sample, Shard, ShardInfo, TargetInfo,
    SHARD_FORMAT_VERSION,
};
use perf_suite::{find_shard_reports, merge_shards, SuiteError, SHARDS_CHECK};

/// A varied sample: agents, categories, outcomes, latencies, streamed figures.
fn sample(i: u64) -> Sample {
    let outcome = match i % 11 {
        0 => Outcome::Timeout,
        5 => Outcome::Error(ErrorKind::Bot),
        7 => Outcome::Dropped,
        _ => Outcome::Ok,
    };
    let agent = ["search", "stats", "summary"][(i % 3) as usize];
    let mut s = Sample::new(
        format!("q{i}"),
        ["standard", "load_spike"][(i % 2) as usize],
        agent,
        outcome,
        1_000 + i * 37 % 90_000,
    );
    s.agent = (outcome == Outcome::Ok).then(|| agent.to_owned());
    s.expected_agent = Some(agent.to_owned());
    s.scheduled_at_us = i * 9_000;
    s.ttft_us = (i % 4 == 0).then_some(300 + i);
    s
}

fn shard_info(number: u32, total: u32) -> ShardInfo {
    ShardInfo {
        format_version: SHARD_FORMAT_VERSION,
        number,
        total,
        seed: 42,
        config_digest: "fnv1a64:0123456789abcdef".to_owned(),
        start_at: Some("2026-11-26T17:00:00.000000Z".to_owned()),
        execution_started_at: format!("2026-11-26T17:00:00.00{number}000Z"),
        start_lateness_ms: Some(f64::from(number)),
        host: format!("node-{number}"),
    }
}

/// Writes the result of `samples` as shard `number/total` into `root`, returning its
/// report directory.
fn write_shard(root: &Path, number: u32, total: u32, samples: &[Sample]) -> PathBuf {
    let mut r = RunResult::new(
        format!("run-shard{number}of{total}"),
        "2026-11-26T17:00:00Z",
        TargetInfo::default(),
    );
    for s in samples {
        r.record(s);
    }
    r.wall_time_s = 3.0;
    r.shard = Some(shard_info(number, total));
    perf_report::write_run_reports(&r, root).unwrap().dir
}

fn split(samples: &[Sample], total: u32) -> Vec<Vec<Sample>> {
    let mut parts = vec![Vec::new(); total as usize];
    for (k, s) in samples.iter().enumerate() {
        let shard = (1..=total)
            .map(|n| Shard::new(n, total, "s").unwrap())
            .find(|sh| sh.owns(k as u64))
            .unwrap();
        parts[shard.slot() as usize].push(s.clone());
    }
    parts
}

#[test]
fn a_merge_of_shards_equals_one_run_fed_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Sample> = (0..2_000).map(sample).collect();
    let mut whole = RunResult::new("whole", "t", TargetInfo::default());
    for s in &samples {
        whole.record(s);
    }
    let mut dirs: Vec<PathBuf> = split(&samples, 4)
        .iter()
        .enumerate()
        .map(|(i, part)| write_shard(dir.path(), i as u32 + 1, 4, part))
        .collect();
    // The order of the arguments does not matter.
    dirs.reverse();
    let files = find_shard_reports(&dirs).unwrap();
    let merged = merge_shards(&files, "merged").unwrap();
    assert_eq!(merged.overall, whole.overall);
    assert_eq!(merged.overall.latency, whole.overall.latency);
    assert_eq!(merged.overall.ttft, whole.overall.ttft);
    assert_eq!(merged.per_agent, whole.per_agent);
    assert_eq!(merged.per_category, whole.per_category);
    assert_eq!(merged.per_scenario, whole.per_scenario);
    assert_eq!(merged.schedule, whole.schedule);
    assert_eq!(merged.summary().overall, {
        let mut w = whole.clone();
        w.wall_time_s = merged.wall_time_s;
        w.summary().overall
    });
    // Shards started within 4 ms of each other: one-second buckets line up.
    assert_eq!(merged.timeline, whole.timeline);
    let m = merged.merge.as_ref().unwrap();
    assert!(m.is_complete());
    assert_eq!(m.total, 4);
    let numbers: Vec<u32> = m.shards.iter().map(|s| s.number).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4]);
    assert_eq!(m.shards[3].host, "node-4");
    assert!((m.shards[3].start_offset_ms - 3.0).abs() < 1e-6);
    assert_eq!(m.shards.iter().map(|s| s.count).sum::<u64>(), 2_000);
    let check = merged
        .checks
        .iter()
        .find(|c| c.group == CheckGroup::Distributed)
        .unwrap();
    assert!(check.passed, "{}", check.reason);

    // A reports root holding the four run directories is found the same way.
    let again = find_shard_reports(&[dir.path().to_owned()]).unwrap();
    assert_eq!(again.len(), 4);
}

#[test]
fn a_missing_shard_makes_the_merge_incomplete_and_says_which() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Sample> = (0..100).map(sample).collect();
    let parts = split(&samples, 4);
    let dirs: Vec<PathBuf> = [0usize, 1, 3]
        .iter()
        .map(|&i| write_shard(dir.path(), i as u32 + 1, 4, &parts[i]))
        .collect();
    let merged = merge_shards(&find_shard_reports(&dirs).unwrap(), "m").unwrap();
    let m = merged.merge.as_ref().unwrap();
    assert_eq!(m.missing, vec![3]);
    assert!(!m.is_complete());
    let check = merged
        .checks
        .iter()
        .find(|c| c.name == SHARDS_CHECK)
        .unwrap();
    assert!(!check.passed);
    assert!(check.reason.contains("missing: 3"), "{}", check.reason);
    assert!(
        merged.notes[0].starts_with("INCOMPLETE"),
        "{:?}",
        merged.notes
    );
    assert_eq!(
        merged.overall.count,
        (parts[0].len() + parts[1].len() + parts[3].len()) as u64
    );
    assert_eq!(
        perf_report::overall_status(&merged).status,
        perf_report::Status::Fail
    );
}

/// Issue #16 D2 on the merge path: a merge missing shards never becomes the baseline,
/// neither by `auto_update_baselines` nor by `ci-gate --merge --update-baseline`.
#[tokio::test]
async fn a_merge_missing_shards_never_becomes_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Sample> = (0..60).map(sample).collect();
    let parts = split(&samples, 3);
    let dirs: Vec<PathBuf> = [0usize, 2]
        .iter()
        .map(|&i| write_shard(&dir.path().join("shards"), i as u32 + 1, 3, &parts[i]))
        .collect();
    let mut config = perf_suite::Config {
        output_dir: dir.path().join("reports"),
        record_history: false,
        ..perf_suite::Config::default()
    };
    config.performance_baselines.baselines_dir = dir.path().join("baselines");
    config.performance_baselines.auto_update_baselines = true;
    let out = perf_suite::merge_and_report(&config, &dirs, None, |_| {})
        .await
        .unwrap();
    assert!(!out.result.merge.as_ref().unwrap().is_complete());
    let phase5 = out.result.phases.iter().find(|p| p.number == 5).unwrap();
    assert!(!phase5.detail.contains("created"), "{phase5:?}");
    let request = perf_suite::GateRequest {
        update_baseline: true,
        out: dir.path().join("gate"),
        ..perf_suite::GateRequest::default()
    };
    config.performance_baselines.auto_update_baselines = false;
    let gate = perf_suite::merge_gate(&config, &request, &dirs).await;
    assert!(gate.baseline_saved.is_none());
    assert!(gate.reason.contains("not saved"), "{}", gate.reason);
    assert!(
        !dir.path().join("baselines").exists()
            || std::fs::read_dir(dir.path().join("baselines"))
                .unwrap()
                .next()
                .is_none(),
        "no baseline file"
    );
}

/// The error of merging `dirs`, as text.
fn refusal(dirs: &[PathBuf]) -> String {
    let files = match find_shard_reports(dirs) {
        Ok(f) => f,
        Err(e) => return e.to_string(),
    };
    match merge_shards(&files, "m") {
        Ok(_) => panic!("merged what should have been refused"),
        Err(e) => {
            assert!(matches!(e, SuiteError::Shard { .. }), "{e}");
            e.to_string()
        }
    }
}

fn edit(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("report.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
}

#[test]
fn shards_of_other_tests_duplicates_newer_formats_and_damage_are_refused_by_name() {
    let samples: Vec<Sample> = (0..40).map(sample).collect();
    let parts = split(&samples, 2);
    let fresh = |dir: &Path| {
        (
            write_shard(dir, 1, 2, &parts[0]),
            write_shard(dir, 2, 2, &parts[1]),
        )
    };
    let check = |edit_second: &dyn Fn(&Path), field: &str, words: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = fresh(dir.path());
        edit_second(&b);
        let e = refusal(&[a, b.clone()]);
        assert!(e.contains(&b.display().to_string()), "{e}");
        assert!(e.contains(&format!("`{field}`")), "{field}: {e}");
        assert!(e.contains(words), "{words}: {e}");
    };
    check(
        &|d| edit(d, |v| v["shard"]["config_digest"] = "fnv1a64:ffff".into()),
        "shard.config_digest",
        "different tests",
    );
    check(
        &|d| edit(d, |v| v["shard"]["seed"] = 7.into()),
        "shard.seed",
        "different tests",
    );
    check(
        &|d| edit(d, |v| v["shard"]["number"] = 1.into()),
        "shard.number",
        "given twice",
    );
    check(
        &|d| edit(d, |v| v["format_version"] = 99.into()),
        "format_version",
        "newer",
    );
    check(
        &|d| edit(d, |v| v["shard"]["format_version"] = 99.into()),
        "shard.format_version",
        "newer",
    );
    check(
        &|d| {
            edit(d, |v| {
                v.as_object_mut().unwrap().remove("shard");
            })
        },
        "shard",
        "--shard",
    );

    // A damaged file names the shard; the other shard's files are untouched.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = fresh(dir.path());
    let before = std::fs::read(a.join("report.json")).unwrap();
    std::fs::write(
        b.join("report.json"),
        "{\"format_version\": 1, \"overall\": ",
    )
    .unwrap();
    let e = refusal(&[a.clone(), b.clone()]);
    assert!(
        e.contains(&b.display().to_string()) && e.contains("run that shard again"),
        "{e}"
    );
    assert_eq!(std::fs::read(a.join("report.json")).unwrap(), before);

    // A directory with no result at all.
    let empty = tempfile::tempdir().unwrap();
    let e = refusal(&[empty.path().to_owned()]);
    assert!(e.contains("no report.json"), "{e}");
}
