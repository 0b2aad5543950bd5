//! `orchestrator capacity`: the highest arrival rate at which the bot meets every SLO.
//! Arguments in, `perf_suite::run_capacity` does the work, a table and an exit code out.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use perf_core::record::Slos;
use perf_suite::{CapacityEvent, CapacityRequest, Config, Exit};
use tokio_util::sync::CancellationToken;

/// The shortest `--max-time`: a search needs a calibration and a probe.
const MIN_BUDGET: Duration = Duration::from_secs(1);
/// The longest `--max-time` (a week), like the gate's budget.
const MAX_BUDGET: Duration = Duration::from_secs(7 * 24 * 3600);

/// `orchestrator capacity` flags.
#[derive(Debug, Args)]
pub(crate) struct CapacityArgs {
    /// Budget for the whole search, seconds (calibration, probes and sweep).
    #[arg(long, value_name = "SECS", default_value_t = 180.0)]
    max_time: f64,
    /// Latency p95 objective, ms (overrides `slos.latency_p95_ms`).
    #[arg(long, value_name = "MS")]
    latency_p95_ms: Option<f64>,
    /// Latency p99 objective, ms (overrides `slos.latency_p99_ms`).
    #[arg(long, value_name = "MS")]
    latency_p99_ms: Option<f64>,
    /// TTFT p95 objective, ms (overrides `slos.ttft_p95_ms`).
    #[arg(long, value_name = "MS")]
    ttft_p95_ms: Option<f64>,
    /// Success-rate objective, 0–1 (overrides `slos.success_rate`).
    #[arg(long, value_name = "SHARE")]
    success_rate: Option<f64>,
    /// Quality floor, 0–1: share of answers whose expectations and routing pass.
    #[arg(long, value_name = "SHARE")]
    quality_floor: Option<f64>,
    /// Closed-loop user counts to sweep for the USL prediction, e.g. `1,2,4,8`.
    #[arg(long, value_name = "USERS", value_delimiter = ',')]
    sweep: Vec<usize>,
    /// First rate to probe (queries/s); calibrated by a short closed loop when absent.
    #[arg(long, value_name = "PER_SECOND")]
    start_rate: Option<f64>,
}

/// Runs the search and returns its exit (`CapacityOutcome::exit`): 0 when a capacity was found, 1 when no rate
/// meets the SLOs or noise prevented a decision, 2 when nothing could be measured, 130
/// when interrupted.
pub(crate) async fn run(args: &CapacityArgs, config: &Config) -> anyhow::Result<Exit> {
    let budget = Duration::try_from_secs_f64(args.max_time)
        .ok()
        .filter(|d| (MIN_BUDGET..=MAX_BUDGET).contains(d))
        .with_context(|| {
            format!(
                "--max-time {} is not a usable budget: give {} to {} seconds",
                args.max_time,
                MIN_BUDGET.as_secs(),
                MAX_BUDGET.as_secs()
            )
        })?;
    let request = CapacityRequest {
        budget,
        slo_overrides: Slos {
            latency_p95_ms: args.latency_p95_ms,
            latency_p99_ms: args.latency_p99_ms,
            ttft_p95_ms: args.ttft_p95_ms,
            success_rate: args.success_rate,
            quality_floor: args.quality_floor,
        },
        sweep: args.sweep.clone(),
        start_rate: args.start_rate,
        ..CapacityRequest::default()
    };
    let cancel = CancellationToken::new();
    perf_suite::cancel_on_signals(cancel.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            match e {
                // Each probe names its rate as it starts: the first may be an overload
                // probe, not the search's start rate.
                CapacityEvent::Calibrated {
                    throughput_per_s, ..
                } => eprintln!("calibration: {throughput_per_s:.3} queries/s in a closed loop"),
                CapacityEvent::ProbeStarted { rate } => eprintln!("probe at {rate:.3}/s ..."),
                CapacityEvent::ProbeFinished(p) => eprintln!(
                    "  {:?}: throughput {:.3}/s, goodput {:.3}/s, p95 {} ms{}",
                    p.verdict,
                    p.throughput_per_s,
                    p.goodput_per_s,
                    p.latency_p95_ms
                        .map_or("–".to_owned(), |v| format!("{v:.0}")),
                    if p.stopped_early {
                        " (stopped early: saturated)"
                    } else {
                        ""
                    }
                ),
                CapacityEvent::SweepPoint(p) => eprintln!(
                    "sweep: {} users, {:.3} queries/s",
                    p.concurrency, p.throughput
                ),
                CapacityEvent::Note(n) => eprintln!("note: {n}"),
                _ => {}
            }
        }
    });
    let outcome = perf_suite::run_capacity(config, &request, Some(tx), cancel.clone()).await;
    let _ = printer.await;
    let outcome = outcome?;
    println!();
    print!("{}", perf_report::render_capacity_terminal(&outcome.report));
    println!("\nReports: {}", outcome.run_dir.display());
    Ok(outcome.exit())
}
