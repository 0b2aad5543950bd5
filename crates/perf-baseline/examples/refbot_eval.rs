//! The verdicts on real runs of the reference bot on this machine: A/A pairs (same build,
//! another latency seed) and pairs with the bot's `latency_factor` at 1.15 and 1.25, each
//! run 200 standard queries through the real runner (4 virtual users), plus the run noise
//! estimated from the A runs.
//!
//! ```text
//! cargo run --release -p perf-baseline --example refbot_eval -- [queries] [a_runs] [b_runs]
//! ```

use std::sync::Arc;

use perf_baseline::{
    compare, estimate_run_noise, Baseline, CompareOptions, EnvironmentFingerprint, Thresholds,
};
use perf_core::record::{RunResult, Verdict};
use perf_core::{BotTarget, LoadProfile, Query};
use perf_refbot::{RefBot, RefBotConfig};
use perf_runner::{Plan, Runner, RunnerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let queries = args.first().copied().unwrap_or(200);
    let a_runs = args.get(1).copied().unwrap_or(8);
    let b_runs = args.get(2).copied().unwrap_or(4);

    let dir = tempfile::tempdir()?;
    let db = dir.path().join("discord_messages.db");
    perf_synth::generate_database(
        &db,
        &perf_synth::FixtureConfig {
            messages: 3000,
            ..Default::default()
        },
    )
    .await?;
    let pool = perf_synth::open_database(&db).await?;
    let content = perf_synth::analyze_content(&pool, &db).await?;
    pool.close().await;
    let plan_queries = perf_synth::generate_standard_queries(&content, queries, 1);

    let mut a = Vec::new();
    for i in 0..a_runs {
        a.push(one_run(&db, &plan_queries, 1 + i as u64, 1.0).await?);
    }
    let env = EnvironmentFingerprint::default();
    let thresholds = Thresholds::default();
    let options = CompareOptions::default();
    let judge = |base: &RunResult, cur: &RunResult| {
        compare(
            &Baseline::from_run("refbot", base, env.clone()),
            cur,
            &env,
            &thresholds,
            &options,
        )
    };
    println!("queries per run: {queries}; A runs: {a_runs}; B runs per factor: {b_runs}");
    println!("| pair | overall | median change | p | smallest detectable |");
    println!("|---|---|---|---|---|");
    let mut tally = Vec::new();
    for i in 1..a.len() {
        let c = judge(&a[i - 1], &a[i])?;
        print_row(&format!("A/A {i}"), &c);
        tally.push(("A/A", c.overall));
    }
    for factor in [1.15, 1.25] {
        for i in 0..b_runs {
            let b = one_run(&db, &plan_queries, 1000 + i as u64, factor).await?;
            let c = judge(&a[i % a.len()], &b)?;
            print_row(&format!("x{factor} {i}"), &c);
            tally.push((if factor < 1.2 { "x1.15" } else { "x1.25" }, c.overall));
        }
    }
    for group in ["A/A", "x1.15", "x1.25"] {
        let of: Vec<Verdict> = tally.iter().filter(|t| t.0 == group).map(|t| t.1).collect();
        let count = |v: Verdict| of.iter().filter(|&&x| x == v).count();
        println!(
            "{group}: {} pairs, {} regression, {} inconclusive, {} pass/improvement",
            of.len(),
            count(Verdict::Regression),
            count(Verdict::Inconclusive),
            count(Verdict::Pass) + count(Verdict::Improvement)
        );
    }
    let medians: Vec<f64> = a
        .iter()
        .map(|r| r.overall.latency.percentile_micros(50.0) as f64)
        .collect();
    if let Some(noise) = estimate_run_noise(&medians) {
        println!(
            "run-to-run spread of the A runs' medians (sampling included): {:.1}%",
            100.0 * noise
        );
    }
    Ok(())
}

async fn one_run(
    db: &std::path::Path,
    queries: &[Query],
    seed: u64,
    factor: f64,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let bot = RefBot::open(RefBotConfig {
        database_path: db.to_owned(),
        seed,
        latency_factor: factor,
        ..RefBotConfig::default()
    })
    .await?;
    let info = bot.describe();
    let runner = Runner::new(Arc::new(bot), RunnerConfig::default());
    let mut result = RunResult::new(format!("run-{seed}-{factor}"), "", info);
    runner
        .run(
            &Plan::new(queries.to_vec(), LoadProfile::closed(4, None)),
            &mut result,
        )
        .await?;
    Ok(result)
}

fn print_row(name: &str, c: &perf_core::record::Comparison) {
    let Some(m) = c
        .verdicts
        .iter()
        .find(|v| v.key == "overall" && v.metric == "latency_median")
    else {
        return;
    };
    println!(
        "| {name} | {} | {:+.1}% | {} | {} |",
        c.overall,
        100.0 * m.relative_change,
        m.p_value.map_or("-".into(), |p| format!("{p:.3}")),
        m.min_detectable_change
            .map_or("-".into(), |x| format!("{:.1}%", 100.0 * x))
    );
}
