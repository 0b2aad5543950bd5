//! Times the baseline operations on large simulated runs: making a baseline, comparing,
//! writing and reading the file, and recording the run in the history.
//!
//! ```text
//! cargo run --release -p perf-baseline --example baseline_bench -- [queries]
//! ```

use std::time::Instant;

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{
    compare_baselines, Baseline, BaselineStore, CompareOptions, EnvironmentFingerprint, History,
    Thresholds, WriteMode,
};
use perf_core::SplitMix64;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queries: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut rng = SplitMix64::new(7);
    let model = SimulatedRun {
        queries,
        ..SimulatedRun::default()
    };
    let a = model.draw("a", &mut rng);
    let b = SimulatedRun {
        latency_factor: 1.1,
        ..model
    }
    .draw("b", &mut rng);
    let env = EnvironmentFingerprint::default();

    let t = Instant::now();
    let base = Baseline::from_run("bench", &a, env.clone());
    let cur = Baseline::from_run("bench", &b, env.clone());
    let make = t.elapsed() / 2;

    let reps = 20;
    let t = Instant::now();
    let mut verdicts = 0;
    for _ in 0..reps {
        verdicts += compare_baselines(
            &base,
            &cur,
            &Thresholds::default(),
            &CompareOptions::default(),
        )
        .verdicts
        .len();
    }
    let compare = t.elapsed() / reps;

    let dir = tempfile::tempdir()?;
    let store = BaselineStore::new(dir.path());
    let t = Instant::now();
    let path = store.save(&base, WriteMode::Replace)?;
    let save = t.elapsed();
    let size = std::fs::metadata(&path)?.len();
    let t = Instant::now();
    let _ = store.load("bench")?;
    let load = t.elapsed();

    let history = History::open(dir.path().join("history.db")).await?;
    let t = Instant::now();
    for i in 0..20 {
        let mut r = a.clone();
        r.run_id = format!("run-{i}");
        history.record(&r).await?;
    }
    let record = t.elapsed() / 20;
    let t = Instant::now();
    let trends = history.trends(20, &Default::default()).await?;
    let trend = t.elapsed();
    history.close().await;

    println!("queries per run: {queries}");
    println!("baseline from run: {:.2} ms", make.as_secs_f64() * 1e3);
    println!(
        "compare ({} verdicts): {:.2} ms",
        verdicts / reps as usize,
        compare.as_secs_f64() * 1e3
    );
    println!(
        "save: {:.2} ms, load: {:.2} ms, file: {} KiB",
        save.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        size / 1024
    );
    println!(
        "history record: {:.2} ms per run; {} trends over 20 runs: {:.2} ms",
        record.as_secs_f64() * 1e3,
        trends.len(),
        trend.as_secs_f64() * 1e3
    );
    Ok(())
}
