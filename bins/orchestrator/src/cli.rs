use std::path::PathBuf;

use clap::Parser;
use perf_suite::{exit_codes, Config, Exit};
use tokio_util::sync::CancellationToken;

use crate::commands::{BaselineCommand, Command};
use crate::progress::Progress;

/// Runs the chat-bot performance suite against the embedded reference bot (or another
/// target) and writes reports under `reports/<run-id>/`.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
    /// JSON configuration file (the original suite's keys; every key is optional).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Standard queries to generate (overrides `query_count`; `--max-queries` as in ci-gate).
    #[arg(long, global = true, value_name = "N", visible_alias = "max-queries")]
    query_count: Option<usize>,
    /// Queries in flight at most (overrides `parallel_execution.max_concurrent`).
    #[arg(long, global = true, value_name = "N")]
    max_concurrent: Option<usize>,
    /// Query starts per second (overrides `parallel_execution.rate_limit_per_second`).
    #[arg(
        long,
        global = true,
        value_name = "PER_SECOND",
        conflicts_with = "no_rate_limit"
    )]
    rate_limit: Option<f64>,
    /// Start queries as fast as the concurrency allows.
    #[arg(long, global = true)]
    no_rate_limit: bool,
    /// Seed for generated data, queries and the reference bot.
    #[arg(long, global = true)]
    seed: Option<u64>,
    /// Message database (overrides `database_path`); generated when missing.
    #[arg(long, global = true, value_name = "PATH")]
    database: Option<PathBuf>,
    /// Reports directory (overrides `output_dir`).
    #[arg(long, global = true, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Bot under test: `refbot` (default), an http(s):// URL, `openai+<URL>` or
    /// `cmd:<command line>`.
    #[arg(long, global = true)]
    target: Option<String>,
    /// The run history to record into and read trends from (overrides `history_url` and
    /// `history_path`): `sqlite://PATH`, a path, or `postgres://user@host/database` (no
    /// password: PGPASSWORD or ~/.pgpass, or the config's `history_url_env`).
    #[arg(long, global = true, value_name = "URL")]
    history_url: Option<String>,
    /// Multiplies stress and load durations (1 = full length).
    #[arg(long, global = true)]
    scale: Option<f64>,
    /// Scenario file or directory of scenario files to run too (repeatable).
    #[arg(long = "scenarios", value_name = "PATH", global = true)]
    scenario_paths: Vec<PathBuf>,
    /// Whether the generated server's facts are judged (overrides `grounding`): `auto`
    /// asks the bot first and judges them only when it knows them (docs/your-bot.md).
    #[arg(long, global = true, value_enum, value_name = "MODE")]
    grounding: Option<GroundingFlag>,
    /// Your own questions (`.jsonl`, `.csv` or a `.json` scenario file) in place of the
    /// generated standard queries (overrides `questions`).
    #[arg(long, global = true, value_name = "FILE")]
    questions: Option<PathBuf>,
    /// Seconds before a query counts as timed out (overrides `query_timeout`).
    #[arg(long, global = true, value_name = "SECS")]
    query_timeout: Option<f64>,
    /// Enable parallel execution (the original suite's flag; on by default).
    #[arg(long, conflicts_with = "no_parallel")]
    parallel: bool,
    /// Turn parallel execution off (the opposite of `--parallel`).
    #[arg(long)]
    no_parallel: bool,
    /// Enable baselines (the original suite's flag; on by default).
    #[arg(long, global = true, conflicts_with = "no_baselines")]
    baselines: bool,
    /// Turn baselines off (the opposite of `--baselines`).
    #[arg(long, global = true)]
    no_baselines: bool,
    /// Enable regression testing (the original suite's flag; on by default).
    #[arg(long, global = true, conflicts_with = "no_regression")]
    regression: bool,
    /// Turn regression testing off (the opposite of `--regression`).
    #[arg(long, global = true)]
    no_regression: bool,
    /// Enable synthetic testing (the original suite's flag; on by default).
    #[arg(long, conflicts_with = "no_synthetic")]
    synthetic: bool,
    /// Turn synthetic testing off (the opposite of `--synthetic`).
    #[arg(long)]
    no_synthetic: bool,
    /// Compare with a baseline recorded from another bot (refused by default; overrides
    /// `performance_baselines.allow_other_target`).
    #[arg(long, global = true)]
    allow_other_target: bool,
    /// No progress bars (they are also off when stderr is not a terminal).
    #[arg(long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Reasons and notes whole instead of one line each, and a row per query category.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(flatten)]
    runtime: perf_cli::RuntimeFlags,
    // The flags below belong to a run (the command without a subcommand, or `baseline
    // create` with them before it): they are not global, so a subcommand's --help lists
    // only what it reads.
    #[command(flatten)]
    live: perf_cli::LiveFlags,
    /// Run shard I of N of a distributed test, 1-based (`--shard 2/4`); also read from
    /// JOB_COMPLETION_INDEX (0-based, Kubernetes) and CI_NODE_INDEX/CI_NODE_TOTAL (GitLab).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Shards in the test, for JOB_COMPLETION_INDEX (overrides the config key `shards`).
    #[arg(long, value_name = "N")]
    shard_total: Option<u32>,
    /// Start executing at this instant (RFC 3339 or Unix seconds), so shards start together.
    #[arg(long, value_name = "TIME")]
    start_at: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

/// `--grounding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GroundingFlag {
    Auto,
    On,
    Off,
}

impl Cli {
    /// Whether to run on one thread, given the configuration (its target) when it loaded.
    pub(crate) fn single_thread(&self, config: Option<&Config>) -> bool {
        let choice = self.runtime.choice();
        // A configuration that does not load gets the default runtime; its error is
        // reported by `run`.
        config.is_some_and(|c| choice.single_thread(&c.target))
            || choice == perf_suite::RuntimeChoice::CurrentThread
    }

    /// The configuration: defaults, then the file, then the flags.
    pub(crate) fn config(&self) -> Result<Config, perf_suite::SuiteError> {
        let mut c = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let mut o = perf_suite::Overrides::default();
        o.query_count = self.query_count;
        o.max_concurrent = self.max_concurrent;
        o.pacing = if self.no_rate_limit {
            Some(perf_suite::Pacing::Unpaced)
        } else {
            self.rate_limit.map(perf_suite::Pacing::PerSecond)
        };
        o.seed = self.seed;
        o.query_timeout = self.query_timeout;
        o.database.clone_from(&self.database);
        o.out.clone_from(&self.out);
        o.target.clone_from(&self.target);
        o.scale = self.scale;
        o.scenario_paths.clone_from(&self.scenario_paths);
        o.history_url.clone_from(&self.history_url);
        o.questions.clone_from(&self.questions);
        o.grounding = self.grounding.map(|g| match g {
            GroundingFlag::Auto => perf_suite::Grounding::Auto,
            GroundingFlag::On => perf_suite::Grounding::On,
            GroundingFlag::Off => perf_suite::Grounding::Off,
        });
        o.allow_other_target = self.allow_other_target;
        let toggle = |on: bool, off: bool| match (on, off) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        o.parallel = toggle(self.parallel, self.no_parallel);
        o.baselines = toggle(self.baselines, self.no_baselines);
        o.regression = toggle(self.regression, self.no_regression);
        o.synthetic = toggle(self.synthetic, self.no_synthetic);
        // Only a run is a shard: `merge`, `history` and the others read results.
        let runs = matches!(
            self.command,
            None | Some(Command::Baseline(BaselineCommand::Create {
                from_run: None,
                ..
            }))
        );
        if runs {
            o.shard = Some(perf_suite::ShardRequest {
                shard: self.shard.clone(),
                total: self.shard_total,
                start_at: self.start_at.clone(),
            });
        }
        if let Some(Command::Baseline(BaselineCommand::Create { name, .. })) = &self.command {
            // A bad name is found before the run that would make the baseline.
            perf_baseline::BaselineStore::new(&c.performance_baselines.baselines_dir)
                .path_of(name)
                .map_err(|e| perf_core::ConfigError::new("baseline create NAME", e.to_string()))?;
        }
        if let Some(Command::Baseline(BaselineCommand::Create { from_run: None, .. })) =
            &self.command
        {
            // This run makes the baseline, so a missing one is expected, not a failure.
            c.performance_baselines.missing_baseline = perf_baseline::MissingBaseline::Lenient;
        }
        o.apply(&mut c)?;
        Ok(c)
    }
}

/// Runs the subcommand or the suite with the configuration `cli.config()` gave, and
/// returns how the process exits.
pub(crate) async fn run(cli: Cli, config: Result<Config, perf_suite::SuiteError>) -> Exit {
    let config = match config {
        Ok(c) => c,
        Err(e) => return Exit::from(&e),
    };
    if let Some(command) = &cli.command {
        match crate::commands::run(command, &config, cli.verbose).await {
            Ok(Some(exit)) => return exit,
            Ok(None) => {}
            Err(e) => return Exit::could_not_run(format!("error: {}", error_chain(&e))),
        }
    }
    let cancel = CancellationToken::new();
    let end_grace = CancellationToken::new();
    spawn_signal_handler(cancel.clone(), end_grace.clone());

    let live = match perf_cli::live::start(&cli.live).await {
        Ok(live) => live,
        Err(e) => return Exit::could_not_run(format!("error: {}", error_chain(&e))),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let progress = Progress::spawn(rx, !cli.quiet, live.as_ref().map(|(_, tx)| tx.clone()));
    let live = live.map(|(handle, _)| handle);
    let outcome = perf_suite::run_suite_with_end_grace(&config, Some(tx), cancel, end_grace).await;
    progress.finish().await;
    if let Some(live) = &live {
        live.finish(live_final(&outcome));
    }
    let exit = report(&cli, &config, outcome);
    if let Some(live) = live {
        perf_cli::live::linger(live, &cli.live).await;
    }
    exit
}

/// The live view's final banner for a suite outcome.
fn live_final(
    outcome: &Result<perf_suite::SuiteOutcome, perf_suite::SuiteError>,
) -> perf_live::LiveFinal {
    match outcome {
        Ok(o) => {
            let status = perf_report::overall_status(&o.result);
            let verdict = if o.result.interrupted {
                perf_live::Verdict::Interrupted
            } else {
                match status.status {
                    perf_report::Status::Pass => perf_live::Verdict::Pass,
                    perf_report::Status::Warn => perf_live::Verdict::Warn,
                    perf_report::Status::Fail => perf_live::Verdict::Fail,
                }
            };
            perf_live::LiveFinal {
                verdict,
                reasons: status.reasons,
                reports: Some(o.run_dir().to_owned()),
                discord: o.result.discord.clone(),
            }
        }
        Err(e) => perf_live::LiveFinal {
            verdict: perf_live::Verdict::CouldNotRun,
            reasons: vec![e.to_string()],
            reports: None,
            discord: None,
        },
    }
}

/// Prints the result, saves a baseline when asked, and returns how the process exits.
fn report(
    cli: &Cli,
    config: &Config,
    outcome: Result<perf_suite::SuiteOutcome, perf_suite::SuiteError>,
) -> Exit {
    match outcome {
        Ok(outcome) => {
            println!();
            print!(
                "{}",
                crate::commands::terminal(&outcome.result, Some(outcome.run_dir()), cli.verbose)
            );
            println!("\nReports: {}", outcome.run_dir().display());
            if let Some(Command::Baseline(BaselineCommand::Create { name, force, .. })) =
                &cli.command
            {
                if let Err(e) =
                    crate::commands::save_baseline(config, name, *force, &outcome.result)
                {
                    return Exit::could_not_run(format!("error: {}", error_chain(&e)));
                }
            }
            outcome.exit()
        }
        Err(e) => Exit::from(&e),
    }
}

/// An error and its causes on one line, leaving out a cause whose text the line already
/// holds (our errors name their cause in their own message, so `{e:#}` would repeat it:
/// "no such file or directory: no such file or directory").
pub(crate) fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Ctrl-C and SIGTERM stop scheduling; a second Ctrl-C abandons the queries in flight and
/// writes the report of what finished; a third exits at once.
fn spawn_signal_handler(cancel: CancellationToken, end_grace: CancellationToken) {
    perf_suite::cancel_on_signals(cancel.clone());
    tokio::spawn(async move {
        cancel.cancelled().await;
        eprintln!("\nstopping: finishing queries in flight (Ctrl-C again to stop waiting)");
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("stopping now: abandoning queries in flight, writing the report of what finished (Ctrl-C again to quit without it)");
        end_grace.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(exit_codes::INTERRUPTED);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phases_turn_off_by_flag_and_the_query_count_has_the_gates_name_too() {
        let cli = Cli::try_parse_from([
            "orchestrator",
            "--no-synthetic",
            "--no-baselines",
            "--no-regression",
            "--max-queries",
            "7",
        ])
        .unwrap();
        let c = cli.config().unwrap();
        assert!(!c.synthetic_testing.enabled);
        assert!(!c.performance_baselines.enabled);
        assert!(!c.regression_testing.enabled);
        assert!(c.parallel_execution.enabled, "untouched");
        assert_eq!(c.query_count, 7);
        let both = Cli::try_parse_from(["orchestrator", "--synthetic", "--no-synthetic"]);
        assert!(both.is_err(), "on and off at once is refused");
    }

    use perf_cli::strategies::flag_value;

    pub(crate) const FLAGS: &[&str] = &[
        "--query-count",
        "--max-concurrent",
        "--rate-limit",
        "--seed",
        "--query-timeout",
        "--scale",
        "--target",
        "--config",
        "--scenarios",
        "--runtime",
        "--grounding",
        "--live",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Issue #16: random flag values through clap and the configuration building that
        /// `main` uses never panic: a clean parse error, a clean configuration error, or a
        /// configuration that validates.
        #[test]
        fn random_flag_values_never_panic(
            pairs in prop::collection::vec((prop::sample::select(FLAGS), flag_value()), 1..4),
        ) {
            let mut args = vec!["orchestrator".to_owned()];
            for (flag, value) in &pairs {
                args.push(format!("{flag}={value}"));
            }
            let Ok(cli) = Cli::try_parse_from(&args) else {
                return Ok(());
            };
            let config = cli.config();
            let _ = cli.single_thread(config.as_ref().ok());
            match config {
                Ok(c) => prop_assert!(c.validate().is_ok()),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
