//! Benchmark of `perf_suite::merge_shards`: SHARDS shard results of SAMPLES samples each
//! (one result recorded once and written SHARDS times with its shard number changed), then
//! the merge timed and the process's peak resident memory read before and after it.
//!
//! `cargo run --release -p perf-suite --example merge_bench -- 100 1000000 [REPEAT]`

use std::time::Instant;

use perf_core::record::{RunResult, ShardInfo, SHARD_FORMAT_VERSION};
use perf_core::{Outcome, Sample, TargetInfo};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time of this process so far (user and system, all threads), seconds; 10 ms steps.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses.
            let rest = s.rsplit_once(')')?.1.split_whitespace().collect::<Vec<_>>();
            let ticks = |i: usize| rest.get(i).and_then(|v| v.parse::<f64>().ok());
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let shards: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let samples: u64 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let repeat: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("temporary directory");

    let t = Instant::now();
    let mut r = RunResult::new("bench", "2026-11-26T17:00:00Z", TargetInfo::default());
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for i in 0..samples {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let outcome = if x % 97 == 0 {
            Outcome::Timeout
        } else {
            Outcome::Ok
        };
        let agent = ["search", "stats", "summary", "digest"][(x % 4) as usize];
        let mut s = Sample::new("q", "standard", agent, outcome, 2_000 + x % 3_000_000);
        s.agent = Some(agent.to_owned());
        s.scheduled_at_us = i * 60;
        s.ttft_us = Some(500 + x % 400_000);
        r.record(&s);
    }
    r.wall_time_s = samples as f64 * 60e-6;
    println!(
        "recorded {samples} samples in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let mut files = Vec::new();
    for n in 1..=shards {
        r.run_id = format!("bench-shard{n}of{shards}");
        r.shard = Some(ShardInfo {
            format_version: SHARD_FORMAT_VERSION,
            number: n,
            total: shards,
            seed: 42,
            config_digest: "fnv1a64:0000000000000000".to_owned(),
            start_at: None,
            execution_started_at: "2026-11-26T17:00:00.000000Z".to_owned(),
            start_lateness_ms: None,
            host: format!("node-{n}"),
        });
        let dir = perf_report::write_run_reports(&r, dir.path())
            .expect("write a shard result")
            .dir;
        files.push(dir.join("report.json"));
    }
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    drop(r);
    let before = peak_rss_mib();
    let (cpu0, t) = (cpu_s(), Instant::now());
    let merged = perf_suite::merge_shards(&files, "bench-merged").expect("merge");
    let (took, cpu) = (t.elapsed().as_secs_f64(), cpu_s() - cpu0);
    println!(
        "merged {shards} shards ({} samples, {:.1} MiB of report.json) in {took:.3} s ({cpu:.2} s of CPU); peak RSS {before:.1} MiB before the merge, {:.1} MiB after",
        merged.overall.count,
        bytes as f64 / 1_048_576.0,
        peak_rss_mib()
    );
    assert_eq!(merged.overall.count, u64::from(shards) * samples);
    drop(merged);
    // The machine is shared: the same merge again, the best and the median of the runs.
    let mut times: Vec<f64> = (0..repeat)
        .map(|_| {
            let t = Instant::now();
            let m = perf_suite::merge_shards(&files, "bench-merged").expect("merge");
            assert_eq!(m.overall.count, u64::from(shards) * samples);
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    if let (Some(best), Some(median)) = (times.first(), times.get(times.len() / 2)) {
        println!("{repeat} more merges: best {best:.3} s, median {median:.3} s");
    }
    // Where the time goes: reading the files, then parsing them (histograms decoded) on
    // one thread, each on its own.
    let t = Instant::now();
    let read: usize = files
        .iter()
        .map(|f| std::fs::read(f).map_or(0, |b| b.len()))
        .sum();
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for f in &files {
        let bytes = std::fs::read(f).expect("read a shard result");
        let shard: RunResult = serde_json::from_slice(&bytes).expect("parse a shard result");
        assert_eq!(shard.overall.count, samples);
    }
    let parse_s = t.elapsed().as_secs_f64();
    println!(
        "reading the {read} bytes alone: {read_s:.3} s; reading and parsing every file on one thread: {parse_s:.3} s"
    );
}
