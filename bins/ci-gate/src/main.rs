//! `ci-gate`: may this build be deployed? Arguments and printing only; the gate itself
//! (configuration, budget, checks, decision) is `perf_suite::run_gate`.
//!
//! Exit codes: 0 deploy; 1 blocked (a check failed, or the budget ran out before the checks
//! could decide); 2 could not run (bad arguments or config, target unreachable at start,
//! missing baseline with `--strict-baseline`); 130 interrupted by Ctrl-C or SIGTERM (the
//! partial report is written). Reasons go to stderr; reports to the out directory.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use perf_suite::{Config, Exit, GateDecision, GateRequest, OnInconclusive};

/// Deployment gate: exit 0 deploy, 1 blocked, 2 could not run, 130 interrupted.
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
    #[arg(
        long,
        value_name = "N",
        default_value_t = 200,
        visible_alias = "query-count"
    )]
    max_queries: usize,
    /// Queries in flight at most (overrides `parallel_execution.max_concurrent`).
    #[arg(long, value_name = "N")]
    max_concurrent: Option<usize>,
    /// Query starts per second; the gate runs unpaced without it (the orchestrator's flag).
    #[arg(long, value_name = "PER_SECOND")]
    rate_limit: Option<f64>,
    /// Scenario file or directory of scenario files to run too (repeatable; as in the
    /// orchestrator).
    #[arg(long = "scenarios", value_name = "PATH")]
    scenario_paths: Vec<PathBuf>,
    /// Print only the decision and the checks that did not pass.
    #[arg(long, conflicts_with = "verbose")]
    quiet: bool,
    /// Print every check's reason whole instead of one line each.
    #[arg(long)]
    verbose: bool,
    /// Your own questions (`.jsonl`, `.csv` or a `.json` scenario file) in place of the
    /// generated standard queries; their categories are the critical paths (overrides
    /// `questions`).
    #[arg(long, value_name = "FILE")]
    questions: Option<PathBuf>,
    /// Baseline to validate against (overrides `performance_baselines.baseline_name`).
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// A missing baseline fails the gate as "could not run" (exit 2) instead of passing.
    #[arg(long)]
    strict_baseline: bool,
    /// Compare with a baseline recorded from another bot (refused, exit 2, by default).
    #[arg(long)]
    allow_other_target: bool,
    /// After the checks, save this run as the baseline (replacing it): how a team refreshes
    /// the baseline it keeps in the repository.
    #[arg(long)]
    update_baseline: bool,
    /// What an inconclusive baseline verdict means.
    #[arg(long, value_enum, default_value_t = Inconclusive::Pass)]
    on_inconclusive: Inconclusive,
    /// Bot under test: `refbot` (default), an http(s):// URL, `openai+<URL>` or `cmd:<command line>`.
    #[arg(long)]
    target: Option<String>,
    /// Also run the stress and load scenarios the configuration enables.
    #[arg(long)]
    with_load: bool,
    /// Multiplies stress and load durations (with --with-load).
    #[arg(long)]
    scale: Option<f64>,
    /// Record the gate run in this run history and read trends from it: `sqlite://PATH`,
    /// a path, or `postgres://user@host/database` (no password: PGPASSWORD or ~/.pgpass, or
    /// the config's `history_url_env`). Without it (or `history_url` in the config) the gate
    /// records nothing.
    #[arg(long, value_name = "URL")]
    history_url: Option<String>,
    /// Also search the bot's capacity with what is left of the budget, and block when it
    /// is below this many queries per second (docs/capacity.md). Not with `--merge` or on
    /// a shard: the search needs the live bot from one machine.
    #[arg(long, value_name = "PER_SECOND")]
    min_capacity: Option<f64>,
    /// Also search the bot's capacity with what is left of the budget and compare it with
    /// the capacity stored in the baseline: a drop beyond
    /// `performance_baselines.thresholds.capacity_drop` (default 0.2) that the intervals
    /// confirm blocks. With --update-baseline the capacity found is stored (docs/capacity.md).
    #[arg(long, conflicts_with = "merge")]
    capacity: bool,
    /// Results directory: each gate run writes `<DIR>/<run-id>/`, `<DIR>/latest` points at it.
    #[arg(long, value_name = "DIR", default_value = "cicd_results")]
    out: PathBuf,
    #[command(flatten)]
    runtime: perf_cli::RuntimeFlags,
    #[command(flatten)]
    live: perf_cli::LiveFlags,
    /// Run shard I of N of a distributed test, 1-based (`--shard 2/4`); also read from
    /// JOB_COMPLETION_INDEX (0-based) and CI_NODE_INDEX/CI_NODE_TOTAL. Gate the whole test
    /// with `--merge` on the shards' results.
    #[arg(long, value_name = "I/N", conflicts_with = "merge")]
    shard: Option<String>,
    /// Shards in the test, for JOB_COMPLETION_INDEX (overrides the config key `shards`).
    #[arg(long, value_name = "N", conflicts_with = "merge")]
    shard_total: Option<u32>,
    /// Start executing at this instant (RFC 3339 or Unix seconds), so shards start together.
    #[arg(long, value_name = "TIME", conflicts_with = "merge")]
    start_at: Option<String>,
    /// Gate the merge of these shard results (report directories, or directories holding
    /// them) instead of running the test: same checks and exit codes.
    #[arg(long, value_name = "DIR", num_args = 1..)]
    merge: Vec<PathBuf>,
}

/// The gate's request and shaped configuration from the flags (and the config file).
fn setup(cli: &Cli) -> Result<(Config, GateRequest), perf_suite::SuiteError> {
    let request = GateRequest::budget_from_secs(cli.timeout).map(|budget| GateRequest {
        budget,
        max_queries: cli.max_queries,
        baseline: cli.baseline.clone(),
        strict_baseline: cli.strict_baseline,
        update_baseline: cli.update_baseline,
        on_inconclusive: match cli.on_inconclusive {
            Inconclusive::Pass => OnInconclusive::Pass,
            Inconclusive::Fail => OnInconclusive::Fail,
        },
        target: cli.target.clone(),
        with_load: cli.with_load,
        scale: cli.scale,
        out: cli.out.clone(),
        min_capacity: cli.min_capacity,
        capacity: cli.capacity,
        capacity_search: perf_suite::CapacityRequest::default(),
        rate_limit: cli.rate_limit,
    });
    request.and_then(|r| {
        let mut base = cli
            .config
            .as_deref()
            .map_or_else(|| Ok(Config::default()), Config::load)?;
        let mut o = perf_suite::Overrides::default();
        o.history_url.clone_from(&cli.history_url);
        o.questions.clone_from(&cli.questions);
        o.allow_other_target = cli.allow_other_target;
        o.max_concurrent = cli.max_concurrent;
        o.scenario_paths.clone_from(&cli.scenario_paths);
        if cli.merge.is_empty() {
            o.shard = Some(perf_suite::ShardRequest {
                shard: cli.shard.clone(),
                total: cli.shard_total,
                start_at: cli.start_at.clone(),
            });
        }
        o.apply_with(&mut base, |c| r.shape_in_place(c))?;
        Ok((base, r))
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Inconclusive {
    Pass,
    Fail,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    perf_cli::init_tracing();
    let setup = setup(&cli);
    let (config, request) = match setup {
        Ok(s) => s,
        Err(e) => {
            return Exit::could_not_run(format!("ci-gate: could not run: {e}")).leave();
        }
    };
    let choice = cli.runtime.choice();
    let outcome = match perf_suite::runtime(choice.single_thread(&config.target)) {
        Ok(rt) => rt.block_on(async {
            let (live, events) = match perf_cli::live::start(&cli.live).await {
                Ok(Some((handle, tx))) => (Some(handle), Some(tx)),
                Ok(None) => (None, None),
                Err(e) => {
                    return Err(Exit::could_not_run(format!(
                        "ci-gate: could not run: {e:#}"
                    )))
                }
            };
            let cancel = tokio_util::sync::CancellationToken::new();
            perf_suite::cancel_on_signals(cancel.clone());
            let outcome = if cli.merge.is_empty() {
                perf_suite::run_gate(&config, &request, events, cancel).await
            } else {
                perf_suite::merge_gate(&config, &request, &cli.merge, cancel).await
            };
            if let Some(live) = live {
                live.finish(perf_live::LiveFinal {
                    verdict: match outcome.decision {
                        GateDecision::Deploy => perf_live::Verdict::Pass,
                        GateDecision::Blocked => perf_live::Verdict::Fail,
                        _ => perf_live::Verdict::CouldNotRun,
                    },
                    reasons: vec![outcome.reason.clone()],
                    reports: outcome.suite.as_ref().map(|s| s.run_dir().to_owned()),
                    discord: outcome
                        .suite
                        .as_ref()
                        .and_then(|s| s.result.discord.clone()),
                });
                perf_cli::live::linger(live, &cli.live).await;
            }
            Ok(outcome)
        }),
        Err(e) => {
            return Exit::could_not_run(format!(
                "ci-gate: could not run: cannot start the async runtime: {e}"
            ))
            .leave();
        }
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(exit) => return exit.leave(),
    };
    if let Some(path) = &outcome.baseline_saved {
        eprintln!("baseline saved to {}", path.display());
    }
    let mut cut_any = false;
    for c in &outcome.checks {
        if cli.quiet && c.passed() {
            continue;
        }
        let text = format!("{} {}: {}", c.status.label(), c.name, c.reason);
        let limit = if cli.verbose {
            VERBOSE_LINE
        } else {
            STDERR_LINE
        };
        let (line, cut) = stderr_line(&text, limit);
        cut_any |= cut;
        eprintln!("{line}");
    }
    if let Some(suite) = &outcome.suite {
        if cut_any {
            eprintln!(
                "reasons shortened to one line: read them whole in {}{}",
                suite.run_dir().join("summary.md").display(),
                if cli.verbose {
                    ""
                } else {
                    " or run with --verbose"
                }
            );
        }
        if let Err(e) = perf_suite::append_github_step_summary(&suite.reports.markdown) {
            eprintln!("warning: cannot append the summary to GITHUB_STEP_SUMMARY: {e}");
        }
        eprintln!("reports: {}", suite.run_dir().display());
    }
    outcome.exit().leave()
}

/// The longest check line ci-gate writes to stderr, in characters.
const STDERR_LINE: usize = 200;
/// The longest with `--verbose`: bounded, because a reason can quote what a bot sent.
const VERBOSE_LINE: usize = 4_000;

/// One stderr line: control characters (which a bot's text may carry) shown as spaces,
/// cut at `limit` characters with "…". The bool says whether anything was cut, so the
/// caller can name the file with the whole text.
fn stderr_line(s: &str, limit: usize) -> (String, bool) {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() <= limit {
        return (clean, false);
    }
    let mut cut: String = clean.chars().take(limit - 1).collect();
    cut.push('…');
    (cut, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_long_stderr_line_is_cut_and_says_so_and_a_short_one_is_whole() {
        let long = format!("FAIL p95: {}because the bot was slow", "x".repeat(1000));
        let (line, cut) = stderr_line(&long, STDERR_LINE);
        assert!(cut);
        assert_eq!(line.chars().count(), STDERR_LINE);
        assert!(line.ends_with('…'));
        let (line, cut) = stderr_line(&long, VERBOSE_LINE);
        assert!(!cut);
        assert!(line.ends_with("slow"));
        let (line, cut) = stderr_line("PASS p95: 120 ms \u{1b}[2J ok", STDERR_LINE);
        assert!(!cut);
        assert!(!line.contains('\u{1b}'));
        assert!(line.ends_with("ok"));
    }

    #[test]
    fn the_orchestrators_load_flags_reach_the_gate() {
        let cli = Cli::try_parse_from([
            "ci-gate",
            "--max-concurrent",
            "3",
            "--rate-limit",
            "7.5",
            "--scenarios",
            "a.json",
            "--scenarios",
            "dir",
            "--quiet",
        ])
        .unwrap();
        assert!(cli.quiet);
        assert_eq!(cli.max_concurrent, Some(3));
        assert_eq!(cli.rate_limit, Some(7.5));
        assert_eq!(cli.scenario_paths.len(), 2);
        let (config, request) = setup(&cli).unwrap();
        assert_eq!(config.parallel_execution.max_concurrent, 3);
        assert_eq!(config.parallel_execution.rate_limit_per_second, Some(7.5));
        assert_eq!(request.rate_limit, Some(7.5));
        assert_eq!(
            config.synthetic_testing.scenario_paths,
            vec![PathBuf::from("a.json"), PathBuf::from("dir")]
        );
        // Without the flag the gate stays unpaced.
        let (config, _) = setup(&Cli::try_parse_from(["ci-gate"]).unwrap()).unwrap();
        assert_eq!(config.parallel_execution.rate_limit_per_second, None);
        assert!(Cli::try_parse_from(["ci-gate", "--quiet", "--verbose"]).is_err());
    }

    #[test]
    fn the_query_count_has_the_orchestrators_name_too() {
        let cli = Cli::try_parse_from(["ci-gate", "--query-count", "9"]).unwrap();
        assert_eq!(cli.max_queries, 9);
    }

    use perf_cli::strategies::flag_value;

    const FLAGS: &[&str] = &[
        "--timeout",
        "--max-queries",
        "--baseline",
        "--target",
        "--scale",
        "--config",
        "--on-inconclusive",
        "--runtime",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Issue #16: random flag values go through clap and the request and configuration
        /// building that `main` uses, and never panic; each is a clean parse error, a
        /// clean setup error, or a request and configuration that validate.
        #[test]
        fn random_flag_values_never_panic(
            pairs in prop::collection::vec((prop::sample::select(FLAGS), flag_value()), 1..4),
            strict in any::<bool>(),
        ) {
            let mut args = vec!["ci-gate".to_owned()];
            for (flag, value) in &pairs {
                args.push(format!("{flag}={value}"));
            }
            if strict {
                args.push("--strict-baseline".to_owned());
            }
            let Ok(cli) = Cli::try_parse_from(&args) else {
                return Ok(());
            };
            match setup(&cli) {
                Ok((config, request)) => {
                    prop_assert!(config.validate().is_ok());
                    prop_assert!(request.max_queries <= perf_suite::MAX_QUERY_COUNT);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
