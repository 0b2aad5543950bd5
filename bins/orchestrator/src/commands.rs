//! Subcommands besides the default run: baselines, history, runs and imports.

use std::path::PathBuf;

use clap::Subcommand;
use perf_suite::{Config, Exit};

/// What to do instead of (or after) a plain run.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list and show baselines.
    #[command(subcommand)]
    Baseline(BaselineCommand),
    /// List recorded runs from the history database, with trends.
    History {
        /// Runs to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// List, show and prune the run directories under the reports directory.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Import DiscordChatExporter JSON exports (files or directories) into the message
    /// database; importing the same export twice adds nothing.
    Import {
        /// Export files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Find the highest arrival rate at which the bot meets every SLO (open-loop probes:
    /// a climb, then bisection), with the knee, what limits it and a USL prediction;
    /// reports under `<output_dir>/capacity-<id>/` (docs/capacity.md).
    Capacity(crate::capacity::CapacityArgs),
    /// Merge the results of a distributed test's shards (their report directories, or
    /// directories holding them) into one result, run phases 5 and 6 on it and write its
    /// reports; exits as a run would (docs/distributed.md).
    Merge {
        /// Shard report directories, or directories holding them.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Send one query to the target (--target or the config's; the first of --questions,
    /// else "hello") and show what was sent and received, redacted, and what the answer
    /// and agent pointers found; exit 0 when the answer resolved, 2 otherwise
    /// (docs/targets.md).
    CheckTarget,
}

/// `orchestrator baseline ...`
#[derive(Debug, Subcommand)]
pub(crate) enum BaselineCommand {
    /// Run the suite (with the usual flags) and save the result as baseline NAME.
    Create {
        /// Baseline name (file `baselines/NAME.json`).
        name: String,
        /// Replace an existing baseline of that name.
        #[arg(long)]
        force: bool,
        /// Make it from a finished run in the reports directory instead of a new run.
        #[arg(long, value_name = "RUN_ID")]
        from_run: Option<String>,
    },
    /// List the baselines.
    List,
    /// Show one baseline's figures.
    Show {
        /// Baseline name.
        name: String,
    },
}

/// `orchestrator runs ...`
#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// List the runs, newest first.
    List,
    /// Print a run's terminal summary.
    Show {
        /// Run id (`latest` for the newest).
        id: String,
    },
    /// Delete all but the newest N runs.
    Prune {
        /// Runs to keep.
        #[arg(long)]
        keep: usize,
    },
}

/// Runs a subcommand that needs no suite run; `None` when the command needs one.
pub(crate) async fn run(
    command: &Command,
    config: &Config,
    verbose: bool,
) -> anyhow::Result<Option<Exit>> {
    use anyhow::Context;
    match command {
        Command::Capacity(args) => crate::capacity::run(args, config).await.map(Some),
        Command::CheckTarget => crate::check_target::run(config).await.map(Some),
        Command::Baseline(BaselineCommand::List) => {
            let store =
                perf_baseline::BaselineStore::new(&config.performance_baselines.baselines_dir);
            let entries = store.list()?;
            if entries.is_empty() {
                println!(
                    "no baselines in {}; create one with `{}`",
                    store.dir().display(),
                    perf_baseline::create_command(&config.performance_baselines.baseline_name)
                );
            }
            for e in entries {
                match e.problem {
                    Some(p) => println!("{:<24} unreadable: {p}", e.name),
                    None => println!(
                        "{:<24} {}  run {}  {} queries  {:.1}% ok  p95 {:.1} ms",
                        e.name,
                        e.created_at,
                        e.run_id,
                        e.queries,
                        e.success_rate * 100.0,
                        e.latency_p95_ms
                    ),
                }
            }
            Ok(Some(Exit::ok()))
        }
        Command::Baseline(BaselineCommand::Show { name }) => {
            let store =
                perf_baseline::BaselineStore::new(&config.performance_baselines.baselines_dir);
            let b = store.load(name)?;
            let mut v = serde_json::to_value(&b).context("serializing the baseline")?;
            // Histograms are long and unreadable on a terminal; the file has them.
            strip_histograms(&mut v);
            println!(
                "{}",
                serde_json::to_string_pretty(&v).context("serializing the baseline")?
            );
            Ok(Some(Exit::ok()))
        }
        Command::Baseline(BaselineCommand::Create {
            name,
            force,
            from_run: Some(id),
        }) => {
            let run = perf_report::load_run(&config.output_dir, id)?;
            save_baseline(config, name, *force, &run)?;
            Ok(Some(Exit::ok()))
        }
        Command::Baseline(BaselineCommand::Create { from_run: None, .. }) => Ok(None),
        Command::Merge { dirs } => {
            let cancel = tokio_util::sync::CancellationToken::new();
            perf_suite::cancel_on_signals(cancel.clone());
            let outcome =
                match perf_suite::merge_and_report(config, dirs, None, cancel, |_| {}).await {
                    Ok(o) => o,
                    Err(perf_suite::SuiteError::Interrupted { .. }) => {
                        return Ok(Some(Exit::interrupted(
                            "interrupted: the merge was stopped; nothing was written",
                        )));
                    }
                    Err(e) => return Err(e).context("merging shard results"),
                };
            print!(
                "{}",
                terminal(&outcome.result, Some(outcome.run_dir()), verbose)
            );
            println!("\nReports: {}", outcome.run_dir().display());
            // The run's rule: a history that could not be written is 2, reports or not.
            Ok(Some(outcome.exit()))
        }
        Command::History { limit } => {
            let location = config.history_location()?;
            let history = perf_baseline::History::connect(&location).await?;
            let runs = history.list_runs(*limit).await?;
            if runs.is_empty() {
                println!("no runs recorded in {location}");
            } else {
                println!("run history: {location}");
            }
            // The listed runs by bot, newest bot first: each bot's runs, then its trends.
            let mut targets: Vec<&str> = Vec::new();
            for r in &runs {
                if !targets.contains(&r.target_key.as_str()) {
                    targets.push(&r.target_key);
                }
            }
            for key in targets {
                println!("\ntarget {key}:");
                for r in runs.iter().filter(|r| r.target_key == key) {
                    println!(
                        "  {:<28} {}  {:>6} queries  {:>5.1}% ok  p50 {:>8.1} ms  p95 {:>8.1} ms  {:>7.2}/s  {}{}",
                        r.run_id,
                        r.started_at,
                        r.queries,
                        r.success_rate * 100.0,
                        r.latency_p50_ms,
                        r.latency_p95_ms,
                        r.throughput_per_s,
                        r.target,
                        if r.interrupted { "  (interrupted)" } else { "" }
                    );
                }
                let trends = history
                    .for_target(key)
                    .trends(config.trend_runs, &perf_baseline::TrendOptions::default())
                    .await?;
                if !trends.is_empty() {
                    println!(
                        "  trends of this target over its last {} runs:",
                        config.trend_runs
                    );
                }
                for t in trends {
                    let shift = match t.change_point.and_then(|i| t.points.get(i)) {
                        Some((id, _, v)) => format!("lasting shift from run {id} (value {v:.2})"),
                        None => "no lasting shift".to_owned(),
                    };
                    println!(
                        "    {:<16} {} runs, slope {:+.3}/run, {shift}",
                        t.metric,
                        t.points.len(),
                        t.slope_per_run
                    );
                }
            }
            history.close().await;
            Ok(Some(Exit::ok()))
        }
        Command::Runs(RunsCommand::List) => {
            let runs = perf_report::list_runs(&config.output_dir)?;
            if runs.is_empty() {
                println!("no runs in {}", config.output_dir.display());
            }
            for r in runs {
                println!(
                    "{:<28} {}  {:<4}  {} queries, {} ok{}{}",
                    r.id,
                    r.started_at,
                    r.status.map_or("?", |s| s.label()),
                    r.total,
                    r.successes,
                    if r.incomplete {
                        ", incomplete: no report was written"
                    } else if r.interrupted {
                        ", interrupted"
                    } else {
                        ""
                    },
                    if r.latest { "  (latest)" } else { "" }
                );
            }
            Ok(Some(Exit::ok()))
        }
        Command::Runs(RunsCommand::Show { id }) => {
            let id = if id == "latest" {
                perf_report::latest_run_id(&config.output_dir)
                    .with_context(|| format!("no runs in {}", config.output_dir.display()))?
            } else {
                id.clone()
            };
            let run = perf_report::load_run(&config.output_dir, &id)?;
            let dir = config.output_dir.join(&id);
            print!("{}", terminal(&run, Some(&dir), verbose));
            Ok(Some(Exit::ok()))
        }
        Command::Runs(RunsCommand::Prune { keep }) => {
            let out = perf_report::prune_runs(&config.output_dir, *keep)?;
            println!(
                "removed {} runs, kept {}",
                out.removed.len(),
                out.kept.len()
            );
            for r in out.removed {
                println!("  removed {r}");
            }
            Ok(Some(Exit::ok()))
        }
        Command::Import { paths } => {
            let stats = perf_synth::import_discord_exports(&config.database_path, paths).await?;
            println!(
                "imported {} files into {}: {} messages added ({} already present), {} channels, {} users, {} reactions",
                stats.files,
                config.database_path.display(),
                stats.messages_added,
                stats.messages_already_present,
                stats.channels_added,
                stats.users_added,
                stats.reactions_added
            );
            if stats.system_messages_skipped > 0 {
                println!(
                    "skipped {} system messages (joins, pins, boosts, thread creation, calls): they carry no user content to query",
                    stats.system_messages_skipped
                );
            }
            Ok(Some(Exit::ok()))
        }
    }
}

/// Saves `run` as baseline `name` and says where.
/// The terminal summary of a run whose reports are in `run_dir`: one line per reason,
/// the whole text named in its `summary.md` (or printed whole with `--verbose`).
pub(crate) fn terminal(
    result: &perf_core::record::RunResult,
    run_dir: Option<&std::path::Path>,
    verbose: bool,
) -> String {
    perf_report::render_terminal_with(
        result,
        &perf_report::TerminalOptions {
            color: perf_report::color_enabled(),
            verbose,
            full_text: run_dir.map(|d| d.join("summary.md")),
        },
    )
}

pub(crate) fn save_baseline(
    config: &Config,
    name: &str,
    force: bool,
    run: &perf_core::record::RunResult,
) -> anyhow::Result<()> {
    let path = perf_suite::save_baseline(config, name, run, force)?;
    println!(
        "baseline `{name}` saved to {} from run {}",
        path.display(),
        run.run_id
    );
    Ok(())
}

fn strip_histograms(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for key in ["latency", "service", "histogram", "start_lag"] {
                if map.get(key).is_some_and(serde_json::Value::is_array) {
                    map.remove(key);
                }
            }
            for child in map.values_mut() {
                strip_histograms(child);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_histograms),
        _ => {}
    }
}
