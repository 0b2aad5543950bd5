//! Load benchmark of `HttpTarget`: N connections against one URL for a fixed time.
//!
//! ```text
//! cargo run --release -p perf-targets --example http_bench -- \
//!     --url http://127.0.0.1:18080/answer.json --connections 64 --seconds 10 [--loop] \
//!     [--method GET] [--answer-pointer /answer] [--http2] [--threads N]
//! ```
//!
//! By default the perf-runner closed loop drives the target (`--connections` users, no
//! think time), exactly as the suite does. `--loop` instead runs N tasks calling
//! `execute` in a tight loop, to see the target's cost without the runner.
//! `--threads 1` uses a current-thread runtime, `--threads N` N workers, and the default
//! is tokio's multi-thread runtime with one worker per core.
//! Prints one JSON object: requests, errors, requests per second, and the resident memory
//! of this process once per second (read from /proc/self/status).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use perf_core::record::RunResult;
use perf_core::{BotTarget, LoadProfile, Query};
use perf_runner::Plan;
use perf_targets::{HttpTarget, HttpTargetConfig, HttpVersion};
use serde_json::json;

struct Args {
    url: String,
    connections: usize,
    seconds: u64,
    tight_loop: bool,
    method: String,
    answer_pointer: String,
    http2: bool,
    threads: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: String::new(),
        connections: 64,
        seconds: 10,
        tight_loop: false,
        method: "GET".to_owned(),
        answer_pointer: "/answer".to_owned(),
        http2: false,
        threads: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--url" => args.url = value()?,
            "--connections" => args.connections = value()?.parse()?,
            "--seconds" => args.seconds = value()?.parse()?,
            "--method" => args.method = value()?,
            "--answer-pointer" => args.answer_pointer = value()?,
            "--loop" => args.tight_loop = true,
            "--http2" => args.http2 = true,
            "--threads" => args.threads = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    if !args.url.starts_with("http://127.") && !args.url.starts_with("http://localhost") {
        bail!("this benchmark only sends traffic to loopback addresses");
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    // 0: tokio's default multi-thread runtime (one worker per core); 1: current-thread.
    let runtime = match args.threads {
        0 => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?,
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mut config = HttpTargetConfig::new(&args.url);
    config.method = args.method.clone();
    config.answer_pointer = Some(args.answer_pointer.clone());
    if args.http2 {
        config.http_version = HttpVersion::Http2;
    }
    let target = Arc::new(HttpTarget::new(config)?);
    let duration = Duration::from_secs(args.seconds);

    let (rss, sampler) = common::sample_rss();

    let start = Instant::now();
    let (requests, errors) = if args.tight_loop {
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..args.connections {
            let (t, ok, failed) = (Arc::clone(&target), Arc::clone(&ok), Arc::clone(&failed));
            tasks.push(tokio::spawn(async move {
                let q = Query::new(format!("w{w}"), "how busy is #general?", "bench");
                while start.elapsed() < duration {
                    match t.execute(&q).await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
        (ok + failed, failed)
    } else {
        let load = LoadProfile::Closed(perf_core::ClosedLoop {
            users: args.connections,
            think_time: Duration::ZERO,
            rate_limit_per_second: None,
            duration: Some(duration),
        });
        let plan = Plan::new(
            vec![Query::new("q", "how busy is #general?", "bench")],
            load,
        );
        let runner = common::bare_runner(Arc::clone(&target) as Arc<dyn BotTarget>);
        let mut result = RunResult::new("bench", "now", target.describe());
        let stats = runner.run(&plan, &mut result).await?;
        (stats.sent, stats.sent - stats.succeeded)
    };
    let elapsed = start.elapsed().as_secs_f64();
    sampler.abort();
    let rss = rss.lock().map(|v| v.clone()).unwrap_or_default();
    println!(
        "{}",
        json!({
            "driver": if args.tight_loop { "loop" } else { "perf-runner" },
            "connections": args.connections,
            "threads": args.threads,
            "seconds": elapsed,
            "requests": requests,
            "errors": errors,
            "requests_per_second": requests as f64 / elapsed,
            "rss_kib_per_second": rss,
        })
    );
    Ok(())
}
