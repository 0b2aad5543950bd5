//! How long recording a run and reading the trends take, on SQLite or PostgreSQL.
//!
//! ```sh
//! cargo run --release -p perf-baseline --example history_bench -- /tmp/h.db 100
//! PGPASSWORD=... cargo run --release -p perf-baseline --example history_bench -- \
//!     postgres://perf@127.0.0.1:54320/perf_history 100
//! ```
//!
//! Records N simulated runs (200 queries, per-agent, category and scenario metrics) one
//! after another, then N more from two handles at once (two machines), then reads the
//! trends over the last 20 runs. The history should be empty at the start.

use std::time::Instant;

use perf_baseline::sim::SimulatedRun;
use perf_baseline::{History, HistoryLocation, TrendOptions};
use perf_core::SplitMix64;

fn run(i: u64, machine: &str) -> perf_core::record::RunResult {
    let mut r = SimulatedRun {
        queries: 200,
        ..SimulatedRun::default()
    }
    .draw(&format!("run-{machine}-{i}"), &mut SplitMix64::new(i));
    r.started_at = format!("2026-01-01T00:{:02}:{:02}.{i:06}Z", i / 60 % 60, i % 60);
    r
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let location = HistoryLocation::parse(
        &args.next().ok_or("usage: history_bench LOCATION [N]")?,
        "LOCATION",
    )?;
    let n: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let h = History::connect(&location).await?;
    let t = Instant::now();
    for i in 0..n {
        h.record(&run(i, "a")).await?;
    }
    let sequential = t.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let h2 = History::connect(&location).await?;
    let t = Instant::now();
    let (a, b) = tokio::join!(
        async {
            for i in n..2 * n {
                h.record(&run(i, "a")).await?;
            }
            Ok::<_, perf_baseline::BaselineError>(())
        },
        async {
            for i in n..2 * n {
                h2.record(&run(i, "b")).await?;
            }
            Ok::<_, perf_baseline::BaselineError>(())
        }
    );
    a?;
    b?;
    let concurrent = t.elapsed().as_secs_f64() * 1000.0 / (2 * n) as f64;
    let t = Instant::now();
    let trends = h.trends(20, &TrendOptions::default()).await?;
    let read = t.elapsed().as_secs_f64() * 1000.0;
    let total = h.list_runs(u32::MAX).await?.len();
    println!("history {location}: {total} runs recorded");
    println!("record, one machine:   {sequential:.2} ms per run");
    println!(
        "record, two at once:   {concurrent:.2} ms per run (both machines' runs over the time)"
    );
    println!(
        "trends over 20 runs:   {read:.2} ms ({} series)",
        trends.len()
    );
    h.close().await;
    h2.close().await;
    Ok(())
}
