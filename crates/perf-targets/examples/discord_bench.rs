//! Load benchmark of the discord target: the fake Discord, the target and the runner in
//! this process, a Discord bot written in Rust (`refbot discord --echo`, which replies with
//! the question at once) in another, for a fixed time.
//!
//! ```text
//! cargo build --release -p refbot -p perf-targets --example discord_bench
//! target/release/examples/discord_bench bot=target/release/refbot users=500 seconds=60 \
//!     [quiet_ms=50]
//! ```
//!
//! Discord's rate limits are off (5 messages per 5 s per channel would cap any bot), the
//! quiet period is the shortest allowed (50 ms), heartbeats every second. Prints one JSON
//! object: queries, errors, queries per second, this process's CPU time per query (user
//! and system, from /proc/self/stat) and its resident memory once per second.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use perf_core::record::RunResult;
use perf_core::{BotTarget, LoadProfile, Query};
use perf_runner::Plan;
use perf_targets::{DiscordTarget, DiscordTargetConfig, RateLimits};
use serde_json::json;

/// The settings, from `key=value` arguments.
#[derive(Default)]
struct Args {
    bot: String,
    users: Option<usize>,
    seconds: Option<u64>,
    quiet_ms: Option<u64>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args::default();
    for a in std::env::args().skip(1) {
        let (key, v) = a
            .split_once('=')
            .with_context(|| format!("`{a}`: give key=value, such as users=200"))?;
        match key {
            "bot" => args.bot = v.to_owned(),
            "users" => args.users = Some(v.parse()?),
            "seconds" => args.seconds = Some(v.parse()?),
            "quiet_ms" => args.quiet_ms = Some(v.parse()?),
            other => bail!("unknown key {other}: bot, users, seconds or quiet_ms"),
        }
    }
    if args.bot.is_empty() {
        bail!("bot=<path of the refbot binary> is required");
    }
    Ok(args)
}

/// User plus system CPU time of this process, in seconds (clock ticks of 1/100 s).
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("bench.db");
    let mut config = DiscordTargetConfig::new(vec![
        args.bot.clone(),
        "discord".into(),
        "--echo".into(),
        "--database".into(),
        db.display().to_string(),
    ]);
    config.rate_limits = RateLimits::Off;
    config.quiet_ms = args.quiet_ms.unwrap_or(50);
    let target = Arc::new(DiscordTarget::new(config, dir.path())?);
    target
        .initialize()
        .await
        .map_err(|e| anyhow::anyhow!("the bot did not start: {e}"))?;

    let (rss, sampler) = common::sample_rss();
    let load = LoadProfile::Closed(perf_core::ClosedLoop {
        users: args.users.unwrap_or(500),
        think_time: Duration::ZERO,
        rate_limit_per_second: None,
        duration: Some(Duration::from_secs(args.seconds.unwrap_or(60))),
    });
    // Distinct ids spread the questions over the guild's channels.
    let queries = (0..64)
        .map(|i| Query::new(format!("q{i}"), "who was most active in #general?", "bench"))
        .collect();
    let plan = Plan::new(queries, load);
    let runner = common::bare_runner(Arc::clone(&target) as Arc<dyn BotTarget>);
    let mut result = RunResult::new("bench", "now", target.describe());
    let (cpu0, start) = (cpu_s(), Instant::now());
    let stats = runner.run(&plan, &mut result).await?;
    let (cpu, elapsed) = (cpu_s() - cpu0, start.elapsed().as_secs_f64());
    sampler.abort();
    let discord = target.summary();
    target.shutdown().await.ok();
    let rss = rss.lock().map(|v| v.clone()).unwrap_or_default();
    let latency = result.overall.latency.summary();
    println!(
        "{}",
        json!({
            "users": args.users.unwrap_or(500),
            "quiet_ms": args.quiet_ms.unwrap_or(50),
            "seconds": elapsed,
            "queries": stats.sent,
            "errors": stats.sent - stats.succeeded,
            "queries_per_second": stats.sent as f64 / elapsed,
            "harness_cpu_us_per_query": cpu * 1e6 / stats.sent.max(1) as f64,
            "latency_p50_ms": latency.p50_ms,
            "latency_p99_ms": latency.p99_ms,
            "messages": discord.as_ref().map(|d| d.messages),
            "loop_blocked_max_ms": discord.as_ref().map(|d| d.loop_blocked_max_ms),
            "rss_kib_per_second": rss,
        })
    );
    Ok(())
}
