//! `ci-gate`: may this build be deployed? Runs the critical paths, validates against a
//! baseline, checks the target's resources and tries edge cases, within a hard time budget.
//!
//! Exit codes: 0 the gate passed (deploy); 1 the gate failed (a check failed, or the budget
//! ran out before the checks could decide); 2 the gate could not run (bad arguments or
//! config, target unreachable at start, missing baseline in strict mode). Reasons go to
//! stderr; `junit.xml`, `summary.md`, `report.json` and `report.html` to the out directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[path = "../../orchestrator/src/live.rs"]
mod live;
use perf_suite::{exit_codes, gate_checks, Config, GateOptions, OnInconclusive};
use tokio_util::sync::CancellationToken;

/// Deployment gate: exit 0 deploy, 1 blocked, 2 could not run.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// JSON configuration file (the orchestrator's format).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Hard budget for the whole gate, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    timeout: f64,
    /// Standard (critical-path) queries to run; 200 is about the least with which the
    /// baseline verdict can decide a 15% change (docs/regression-detection.md).
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_queries: usize,
    /// Baseline to validate against (overrides `performance_baselines.baseline_name`).
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// A missing baseline fails the gate as "could not run" (exit 2) instead of passing.
    #[arg(long)]
    strict_baseline: bool,
    /// After the checks, save this run as the baseline (replacing it): how a team refreshes
    /// the baseline it keeps in the repository.
    #[arg(long)]
    update_baseline: bool,
    /// What an inconclusive baseline verdict means.
    #[arg(long, value_enum, default_value_t = Inconclusive::Pass)]
    on_inconclusive: Inconclusive,
    /// Bot under test: `refbot` (default), an http(s):// URL, or `cmd:<command line>`.
    #[arg(long)]
    target: Option<String>,
    /// Also run the stress and load scenarios the configuration enables (off by default:
    /// the gate answers "may this deploy?", not "how far does it scale?").
    #[arg(long)]
    with_load: bool,
    /// Multiplies stress and load durations (with --with-load).
    #[arg(long)]
    scale: Option<f64>,
    /// Results directory: each gate run writes `<DIR>/<run-id>/`, `<DIR>/latest` points at it.
    #[arg(long, value_name = "DIR", default_value = "cicd_results")]
    out: PathBuf,
    /// The async runtime: `auto` (one thread for a bot outside the process, all cores for
    /// the in-process reference bot), `current-thread` or `multi-thread`.
    #[arg(long, value_enum, default_value_t = Runtime::Auto)]
    runtime: Runtime,
    /// The same as `--runtime current-thread`.
    #[arg(long, conflicts_with = "runtime")]
    single_thread: bool,
    /// Serve a live view of the gate on this address (e.g. 127.0.0.1:5665): a page at `/`,
    /// Prometheus metrics at `/metrics`, JSON lines at `/events` (docs/live.md).
    #[arg(long, value_name = "ADDR")]
    live: Option<std::net::SocketAddr>,
    /// Allow `--live` on an address that is not loopback: anyone who reaches it sees the run.
    #[arg(long, requires = "live")]
    live_public: bool,
    /// Keep the live view up this many seconds after the gate, to read the final state.
    #[arg(long, value_name = "SECS", requires = "live")]
    live_linger: Option<f64>,
}

/// `--runtime` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Runtime {
    Auto,
    CurrentThread,
    MultiThread,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Inconclusive {
    Pass,
    Fail,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = gate_config(&cli);
    let choice = match (cli.single_thread, cli.runtime) {
        (true, _) | (false, Runtime::CurrentThread) => perf_suite::RuntimeChoice::CurrentThread,
        (false, Runtime::MultiThread) => perf_suite::RuntimeChoice::MultiThread,
        (false, Runtime::Auto) => perf_suite::RuntimeChoice::Auto,
    };
    let single_thread = match &config {
        Ok(c) => choice.single_thread(&c.target),
        Err(_) => choice == perf_suite::RuntimeChoice::CurrentThread,
    };
    let code = match perf_suite::runtime(single_thread) {
        Ok(rt) => rt.block_on(run(cli, config)),
        Err(e) => {
            eprintln!("ci-gate: could not run: cannot start the async runtime: {e}");
            exit_codes::COULD_NOT_RUN
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The gate's configuration: the file (or defaults), focused on what the gate checks.
fn gate_config(cli: &Cli) -> Result<Config, perf_suite::SuiteError> {
    let mut c = match &cli.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    c.query_count = cli.max_queries;
    // The gate wants an answer fast: no pacing, and stress and load only when asked for.
    c.parallel_execution.rate_limit_per_second = None;
    if !cli.with_load {
        c.synthetic_testing.stress_scenarios = false;
        c.synthetic_testing.load_testing = false;
    }
    c.synthetic_testing.enabled = true;
    c.synthetic_testing.edge_cases = true;
    c.performance_baselines.enabled = true;
    c.regression_testing.enabled = true;
    if let Some(b) = &cli.baseline {
        c.performance_baselines.baseline_name = b.clone();
    }
    if cli.strict_baseline {
        c.performance_baselines.missing_baseline = perf_baseline::MissingBaseline::Strict;
    }
    c.performance_baselines.auto_update_baselines = false;
    if let Some(s) = cli.scale {
        c.synthetic_testing.scale = Some(s);
    }
    if let Some(t) = &cli.target {
        c.set_target_flag(t)?;
    }
    c.output_dir = cli.out.clone();
    c.record_history = false;
    c.grace_period = c.grace_period.min(1.0);
    if !(cli.timeout.is_finite() && cli.timeout > 0.0) {
        return Err(perf_core::ConfigError::new(
            "--timeout",
            "must be a positive number of seconds",
        )
        .into());
    }
    c.validate()?;
    Ok(c)
}

async fn run(cli: Cli, config: Result<Config, perf_suite::SuiteError>) -> i32 {
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ci-gate: could not run: {e}");
            return exit_codes::COULD_NOT_RUN;
        }
    };
    let live = match live::start(cli.live, cli.live_public, cli.live_linger).await {
        Ok(live) => live,
        Err(e) => {
            eprintln!("ci-gate: could not run: {e:#}");
            return exit_codes::COULD_NOT_RUN;
        }
    };
    let (live, events) = match live {
        Some((handle, tx)) => (Some(handle), Some(tx)),
        None => (None, None),
    };
    let mut reports = None;
    let code = gate(&cli, config, events, &mut reports).await;
    if let Some(live) = live {
        let verdict = match code {
            exit_codes::OK => perf_live::Verdict::Pass,
            exit_codes::FAILED => perf_live::Verdict::Fail,
            _ => perf_live::Verdict::CouldNotRun,
        };
        live.finish(perf_live::LiveFinal {
            verdict,
            reasons: Vec::new(),
            reports,
        });
        live::linger(live, cli.live_linger).await;
    }
    code
}

/// Runs the gate; `reports` is set to the run's directory once written.
async fn gate(
    cli: &Cli,
    config: Config,
    events: Option<tokio::sync::mpsc::UnboundedSender<perf_suite::SuiteEvent>>,
    reports: &mut Option<PathBuf>,
) -> i32 {
    let budget = Duration::from_secs_f64(cli.timeout);
    let cancel = CancellationToken::new();
    {
        // Stop scheduling a little before the budget so the partial report is written in time.
        let budget_cancel = cancel.clone();
        let stop_at = budget.saturating_sub(Duration::from_millis(500).min(budget / 4));
        tokio::spawn(async move {
            tokio::time::sleep(stop_at).await;
            budget_cancel.cancel();
        });
        let signal_cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                signal_cancel.cancel();
            }
        });
    }
    let started = std::time::Instant::now();
    let options = GateOptions {
        on_inconclusive: match cli.on_inconclusive {
            Inconclusive::Pass => OnInconclusive::Pass,
            Inconclusive::Fail => OnInconclusive::Fail,
        },
        resources: config.resource_limits.clone(),
    };
    let budget_cancel = cancel.clone();
    let check_events = events.clone();
    // The gate's checks and the budget note go into the result before the reports are
    // written, so the reports are written once and hold everything.
    let add_gate_checks = move |result: &mut perf_core::RunResult| {
        if result.interrupted && budget_cancel.is_cancelled() {
            result.notes.push(format!(
                "the {:.0} s budget ran out after {:.1} s: the checks below cover the partial run",
                budget.as_secs_f64(),
                started.elapsed().as_secs_f64()
            ));
        }
        let checks = gate_checks(result, &options);
        if let Some(tx) = &check_events {
            for c in &checks {
                let _ = tx.send(perf_suite::SuiteEvent::Check(c.clone()));
            }
        }
        result.checks.extend(checks);
    };
    // The cancellation above ends phase 4 in time; this is the backstop for a phase that
    // cannot be cancelled (a slow database generation, a hung target start).
    let hard_stop = budget + Duration::from_secs(2);
    let outcome = tokio::time::timeout(
        hard_stop,
        perf_suite::run_suite_then(&config, events, cancel.clone(), add_gate_checks),
    )
    .await;
    let outcome = match outcome {
        Ok(Ok(o)) => o,
        Err(_) => {
            eprintln!(
                "ci-gate: blocked: the {:.0} s budget ran out before the run could finish; no report was written",
                budget.as_secs_f64()
            );
            return exit_codes::FAILED;
        }
        Ok(Err(e)) => {
            eprintln!("ci-gate: could not run: {e}");
            return exit_codes::COULD_NOT_RUN;
        }
    };
    *reports = Some(outcome.run_dir().to_owned());
    let result = &outcome.result;
    let strict_missing = config.performance_baselines.missing_baseline
        == perf_baseline::MissingBaseline::Strict
        && result.comparison.is_none()
        && result
            .checks
            .iter()
            .any(|c| c.group == "baseline" && !c.passed);
    let budget_ran_out = result.interrupted && cancel.is_cancelled();
    let checks: Vec<&perf_core::CheckResult> = result
        .checks
        .iter()
        .filter(|c| c.group == perf_suite::GATE_GROUP)
        .collect();
    append_step_summary(&outcome.reports.markdown);
    if cli.update_baseline && !budget_ran_out {
        let name = &config.performance_baselines.baseline_name;
        match perf_suite::save_baseline(&config, name, result, true) {
            Ok(path) => eprintln!("baseline `{name}` saved to {}", path.display()),
            Err(e) => {
                eprintln!("ci-gate: could not run: {e}");
                return exit_codes::COULD_NOT_RUN;
            }
        }
    }

    for c in &checks {
        let mark = if c.passed { "PASS" } else { "FAIL" };
        eprintln!("{mark} {}: {}", c.name, c.reason);
    }
    eprintln!("reports: {}", outcome.run_dir().display());
    if strict_missing {
        eprintln!(
            "ci-gate: could not run: baseline `{}` is missing and --strict-baseline is set; create it with `{}`",
            config.performance_baselines.baseline_name,
            perf_baseline::create_command(&config.performance_baselines.baseline_name)
        );
        return exit_codes::COULD_NOT_RUN;
    }
    if budget_ran_out {
        eprintln!(
            "ci-gate: blocked: the {:.0} s budget ran out before the checks could decide",
            budget.as_secs_f64()
        );
        return exit_codes::FAILED;
    }
    if checks.iter().all(|c| c.passed) {
        eprintln!("ci-gate: passed: deploy");
        exit_codes::OK
    } else {
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        eprintln!("ci-gate: blocked: {} failed", failed.join(", "));
        exit_codes::FAILED
    }
}

/// Appends the Markdown summary to GitHub's job summary when running there.
fn append_step_summary(markdown: &std::path::Path) {
    let Some(target) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let result = std::fs::read(markdown).and_then(|text| {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&target)?;
        f.write_all(&text)?;
        f.write_all(b"\n")
    });
    if let Err(e) = result {
        eprintln!(
            "warning: cannot append the summary to GITHUB_STEP_SUMMARY ({}): {e}",
            PathBuf::from(target).display()
        );
    }
}
