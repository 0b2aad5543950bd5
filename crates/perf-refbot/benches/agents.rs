//! Per-agent cost of the reference bot's real work (latency model off) on the default
//! 15,000-message fixture, sequentially and with 4 queries in flight.
//!
//! `cargo bench -p perf-refbot --bench agents` (results in docs/performance.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use perf_core::{agents, BotTarget, Query};
use perf_refbot::{RefBot, RefBotConfig};

const PER_AGENT: usize = 100;
const IN_FLIGHT: usize = 4;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.db");
    perf_synth::generate_database(&path, &perf_synth::FixtureConfig::default()).await?;
    let pool = perf_synth::open_database(&path).await?;
    let profile = perf_synth::analyze_content(&pool, &path).await?;
    pool.close().await;
    let bot = Arc::new(
        RefBot::open(RefBotConfig {
            database_path: path.clone(),
            latency_scale: 0.0,
            ..RefBotConfig::default()
        })
        .await?,
    );
    let queries = perf_synth::generate_standard_queries(&profile, PER_AGENT * 4, 7);

    // Warm-up: page cache and prepared-statement caches.
    for q in queries.iter().take(20) {
        bot.execute(q).await?;
    }

    println!("| agent | p50 ms | p99 ms | mean ms |");
    println!("|---|---|---|---|");
    let mut seq_total = Duration::ZERO;
    for agent in agents::ALL {
        let mut times = Vec::with_capacity(PER_AGENT);
        for q in queries
            .iter()
            .filter(|q| q.expected_agent.as_deref() == Some(agent))
        {
            let t = Instant::now();
            bot.execute(q).await?;
            times.push(t.elapsed());
        }
        times.sort();
        let sum: Duration = times.iter().sum();
        seq_total += sum;
        println!(
            "| {agent} | {:.2} | {:.2} | {:.2} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(sum / times.len() as u32)
        );
    }
    let seq_qps = queries.len() as f64 / seq_total.as_secs_f64();

    let queries: Arc<Vec<Query>> = Arc::new(queries);
    let t = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..IN_FLIGHT {
        let bot = Arc::clone(&bot);
        let queries = Arc::clone(&queries);
        tasks.push(tokio::spawn(async move {
            for q in queries.iter().skip(w).step_by(IN_FLIGHT) {
                bot.execute(q).await?;
            }
            Ok::<_, perf_core::TargetError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let par_qps = queries.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "\nsequential: {seq_qps:.0} queries/s; {IN_FLIGHT} in flight: {par_qps:.0} queries/s \
         (ratio {:.2})",
        par_qps / seq_qps
    );
    Ok(())
}
