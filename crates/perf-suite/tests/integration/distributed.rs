use std::path::{Path, PathBuf};

use perf_core::record::{CheckGroup, RunResult, ShardInfo, SHARD_FORMAT_VERSION};
use perf_core::{ErrorKind, Outcome, Sample, Shard, TargetInfo};
use perf_suite::{find_shard_reports, merge_shards, SuiteError, SHARDS_CHECK};

/// A varied sample: agents, categories, outcomes, latencies, streamed figures.
pub(crate) fn sample(i: u64) -> Sample {
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
pub(crate) fn write_shard(root: &Path, number: u32, total: u32, samples: &[Sample]) -> PathBuf {
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

pub(crate) fn split(samples: &[Sample], total: u32) -> Vec<Vec<Sample>> {
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
    assert!(check.passed(), "{}", check.reason);

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
    assert!(!check.passed());
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
    let out = perf_suite::merge_and_report(&config, &dirs, None, Default::default(), |_| {})
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
    let gate = perf_suite::merge_gate(&config, &request, &dirs, Default::default()).await;
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

/// Issue #28 item 2: a merge trusts nothing its shard files say. Each hostile value is
/// refused naming the file and the field, before it costs memory (a `shard.total` of
/// 4294967295 aborted with a 4 GB allocation, 10,000,000 wrote 614 MB of missing
/// shards), time (a bucket width of 0 or below looped forever) or trust (more successes
/// than queries passed the checks as "5000065 % ok").
#[test]
fn hostile_shard_files_are_refused_by_field_before_they_cost_memory_or_time() {
    let samples: Vec<Sample> = (0..40).map(sample).collect();
    let parts = split(&samples, 2);
    let check = |edit_second: &dyn Fn(&Path), field: &str, words: &str| {
        let dir = tempfile::tempdir().unwrap();
        let a = write_shard(dir.path(), 1, 2, &parts[0]);
        let b = write_shard(dir.path(), 2, 2, &parts[1]);
        edit_second(&b);
        let e = refusal(&[a, b.clone()]);
        assert!(e.contains(&b.display().to_string()), "{e}");
        assert!(
            field.is_empty() || e.contains(&format!("`{field}`")),
            "{field}: {e}"
        );
        assert!(e.contains(words), "{words}: {e}");
    };
    for total in [4_294_967_295u64, 10_000_000, 0] {
        check(
            &|d| {
                edit(d, |v| {
                    v["shard"]["total"] = total.into();
                    v["shard"]["number"] = 1.into();
                })
            },
            "shard.total",
            "1 to 10000",
        );
    }
    for width in [serde_json::json!(0.0), serde_json::json!(-1.0)] {
        check(
            &|d| edit(d, |v| v["timeline"]["bucket_s"] = width.clone()),
            "timeline.bucket_s",
            "not a bucket width",
        );
    }
    check(
        &|d| {
            edit(d, |v| {
                let b = v["timeline"]["buckets"][0].clone();
                v["timeline"]["buckets"] = serde_json::Value::Array(vec![b; 121]);
            })
        },
        "timeline.buckets",
        "121 buckets",
    );
    check(
        &|d| {
            edit(d, |v| {
                let g = v["per_agent"]["search"].clone();
                let many: serde_json::Map<String, serde_json::Value> =
                    (0..203).map(|i| (format!("a{i}"), g.clone())).collect();
                v["per_agent"] = many.into();
            })
        },
        "per_agent",
        "203 groups",
    );
    check(
        &|d| {
            edit(d, |v| {
                let c = v["overall"]["count"].as_u64().unwrap();
                v["overall"]["successes"] = (c * 50_000).into();
            })
        },
        "overall.successes",
        "more than the group's",
    );
    check(
        &|d| {
            edit(d, |v| {
                v["per_scenario"]["load_spike"]["outcomes"]["ok"] = 1_000_000.into()
            })
        },
        "per_scenario.load_spike.outcomes",
        "outcomes for",
    );
    check(
        &|d| edit(d, |v| v["schedule"]["dropped"] = 1_000_000.into()),
        "schedule.dropped",
        "more than the run's",
    );
    check(
        &|d| edit(d, |v| v["wall_time_s"] = (-3.0).into()),
        "wall_time_s",
        "not a wall time",
    );
    check(
        &|d| edit(d, |v| v["format_version"] = 0.into()),
        "format_version",
        "0 is not a run result format",
    );
    check(
        &|d| edit(d, |v| v["shard"]["format_version"] = 0.into()),
        "shard.format_version",
        "0 is not a shard format",
    );
    // A configuration changed under the same digest.
    check(
        &|d| edit(d, |v| v["config"] = serde_json::json!({"query_count": 5})),
        "config",
        "was edited",
    );
    // A 1 GB sparse file is refused from its size, before a byte of it is read.
    check(
        &|d| {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(d.join("report.json"))
                .unwrap();
            f.set_len(1 << 30).unwrap();
        },
        "",
        "1073741824 bytes is more than",
    );
}

/// Issue #28 item 2: every group, every timeline bucket and every histogram of a shard
/// file read by the merge stays within the bounds `read_shard_report` promises, for a
/// file at the limits (the largest number of groups, all 120 buckets).
#[test]
fn a_shard_at_the_limits_is_read_within_its_histogram_budget() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Sample> = (0..40).map(sample).collect();
    let d = write_shard(dir.path(), 1, 1, &samples);
    edit(&d, |v| {
        let g = v["per_agent"]["search"].clone();
        let many: serde_json::Map<String, serde_json::Value> = (0..perf_suite::MAX_SHARD_GROUPS)
            .map(|i| (format!("a{i}"), g.clone()))
            .collect();
        v["per_agent"] = many.clone().into();
        v["per_category"] = many.clone().into();
        v["per_scenario"] = many.into();
    });
    let file = d.join("report.json");
    assert!(matches!(
        perf_suite::read_shard_header(&file).unwrap(),
        perf_suite::ShardHeader::Shard(_)
    ));
    let size = std::fs::metadata(&file).unwrap().len();
    let (read, used) =
        perf_core::with_histogram_budget(usize::MAX, || perf_suite::read_shard_report(&file));
    // The outer budget sees nothing: the reader sets its own.
    assert_eq!(used.histograms, 0);
    let r = read.unwrap();
    assert_eq!(r.per_agent.len(), perf_suite::MAX_SHARD_GROUPS);
    assert!(perf_suite::shard_histogram_budget(size) <= 128 << 20);
}

/// Issue #28 item 6: merge run ids have a random part, so two merges in the same second
/// never share a report directory (the second overwrote the first's reports) or a history
/// record (the second's was refused with only a note).
#[tokio::test]
async fn two_merges_in_the_same_second_get_their_own_directories() {
    let a = perf_suite::merge_run_id(2);
    let b = perf_suite::merge_run_id(2);
    assert_ne!(a, b);
    assert!(a.contains("-merged-2-"), "{a}");
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Sample> = (0..40).map(sample).collect();
    let parts = split(&samples, 2);
    let dirs: Vec<PathBuf> = (0..2)
        .map(|i| write_shard(&dir.path().join("shards"), i + 1, 2, &parts[i as usize]))
        .collect();
    let config = perf_suite::Config {
        output_dir: dir.path().join("reports"),
        record_history: false,
        ..perf_suite::Config::default()
    };
    let first = perf_suite::merge_and_report(&config, &dirs, None, Default::default(), |_| {})
        .await
        .unwrap();
    let second = perf_suite::merge_and_report(&config, &dirs, None, Default::default(), |_| {})
        .await
        .unwrap();
    assert_ne!(first.run_dir(), second.run_dir());
    assert!(first.reports.json.is_file() && second.reports.json.is_file());
}

/// Issue #28 item 6: a merged report stored among the shards (`orchestrator merge
/// reports/` writing into `reports/`) is left out of the next merge of that directory,
/// with a note, instead of failing it.
#[tokio::test]
async fn a_merged_report_among_the_shards_is_left_out_of_the_next_merge() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("reports");
    let samples: Vec<Sample> = (0..40).map(sample).collect();
    let parts = split(&samples, 2);
    for i in 0..2u32 {
        write_shard(&root, i + 1, 2, &parts[i as usize]);
    }
    let config = perf_suite::Config {
        output_dir: root.clone(),
        record_history: false,
        ..perf_suite::Config::default()
    };
    let dirs = [root.clone()];
    let first = perf_suite::merge_and_report(&config, &dirs, None, Default::default(), |_| {})
        .await
        .unwrap();
    assert!(first.run_dir().starts_with(&root));
    let again = perf_suite::merge_and_report(&config, &dirs, None, Default::default(), |_| {})
        .await
        .unwrap();
    assert_eq!(again.result.overall, first.result.overall);
    assert!(
        again
            .result
            .notes
            .iter()
            .any(|n| n.contains("left out: it is a merged result")),
        "{:?}",
        again.result.notes
    );
}

fn shard_dirs(root: &Path, total: u32) -> Vec<PathBuf> {
    let samples: Vec<Sample> = (0..400).map(sample).collect();
    let parts = split(&samples, total);
    (0..total)
        .map(|i| write_shard(root, i + 1, total, &parts[i as usize]))
        .collect()
}

/// Issue #28 items 2 and 4: `ci-gate --merge` heeds Ctrl-C and SIGTERM (here the token
/// they cancel): exit 130 "interrupted", no report, no baseline, and no decision that
/// could say "deploy".
#[tokio::test]
async fn a_cancelled_merge_gate_is_interrupted_and_saves_no_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = shard_dirs(&dir.path().join("shards"), 2);
    let mut config = perf_suite::Config {
        output_dir: dir.path().join("reports"),
        record_history: false,
        ..perf_suite::Config::default()
    };
    config.performance_baselines.baselines_dir = dir.path().join("baselines");
    let request = perf_suite::GateRequest {
        update_baseline: true,
        out: dir.path().join("reports"),
        ..perf_suite::GateRequest::default()
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    cancel.cancel();
    let out = perf_suite::merge_gate(&config, &request, &dirs, cancel).await;
    assert_eq!(
        out.decision,
        perf_suite::GateDecision::Interrupted,
        "{}",
        out.reason
    );
    assert_eq!(out.decision.exit_code(), 130);
    assert!(out.reason.contains("interrupted"), "{}", out.reason);
    assert!(out.baseline_saved.is_none());
    assert!(!dir.path().join("baselines").exists(), "no baseline file");
    assert!(!dir.path().join("reports").exists(), "no report");
    // Uncancelled, the same merge decides and saves the baseline: the refusal above
    // came from the cancellation.
    let out = perf_suite::merge_gate(&config, &request, &dirs, Default::default()).await;
    assert_ne!(
        out.decision,
        perf_suite::GateDecision::Interrupted,
        "{}",
        out.reason
    );
    assert!(out.baseline_saved.is_some(), "{}", out.reason);
}

/// Issue #28 item 2: the merge keeps inside `--timeout`, even when what it waits on never
/// answers (here a history database that accepts the connection and says nothing). On
/// tokio's paused clock the budget comes due while the runtime waits, so the budget ends
/// the gate: blocked with the plain gate's reason, no baseline.
#[tokio::test(start_paused = true)]
async fn a_merge_gate_whose_budget_runs_out_blocks_and_saves_no_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let dirs = shard_dirs(&dir.path().join("shards"), 2);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let mut config = perf_suite::Config {
        output_dir: dir.path().join("reports"),
        record_history: true,
        ..perf_suite::Config::default()
    };
    config
        .set_history_url_flag(&format!("postgres://ci@127.0.0.1:{port}/perf"))
        .unwrap();
    config.performance_baselines.baselines_dir = dir.path().join("baselines");
    let request = perf_suite::GateRequest {
        budget: std::time::Duration::from_secs(5),
        update_baseline: true,
        out: dir.path().join("reports"),
        ..perf_suite::GateRequest::default()
    };
    let out = perf_suite::merge_gate(&config, &request, &dirs, Default::default()).await;
    assert_eq!(
        out.decision,
        perf_suite::GateDecision::Blocked,
        "{}",
        out.reason
    );
    assert!(out.reason.contains("5 s budget ran out"), "{}", out.reason);
    assert!(out.baseline_saved.is_none());
    assert!(!dir.path().join("baselines").exists(), "no baseline file");
}
