//! `refbot`: the reference bot on the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use perf_refbot::{LlmConfig, RefBot, RefBotConfig};

mod discord;
mod serve;
mod stdio;

/// Exit code when the command succeeded.
const EXIT_OK: u8 = 0;
/// Exit code when the command failed (bad arguments exit with clap's 2).
const EXIT_FAILURE: u8 = 1;

/// The reference chat bot: an agentic Discord-style bot over a SQLite message database.
#[derive(Debug, Parser)]
#[command(name = "refbot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer one query and print the answer and the agent as JSON.
    Answer(AnswerArgs),
    /// Serve the bot over HTTP: POST /query, GET /health, POST /v1/chat/completions.
    Serve(serve::ServeArgs),
    /// Serve the bot as JSON lines on stdin/stdout.
    Stdio(stdio::StdioArgs),
    /// Run the bot as a Discord bot: DISCORD_TOKEN, DISCORD_API_BASE and
    /// DISCORD_GATEWAY_URL from the environment (the discord target sets them).
    Discord(discord::DiscordArgs),
}

/// Options shared by every way of running the bot.
#[derive(Debug, Args)]
struct BotArgs {
    /// The message database [default: data/discord_messages.db, or the config file's];
    /// generated from the default fixture when missing.
    #[arg(long)]
    database: Option<PathBuf>,
    /// A JSON file with a refbot configuration (`database_path`, `seed`, `latency_scale`,
    /// ...); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of the latency and fault model.
    #[arg(long)]
    seed: Option<u64>,
    /// Multiplier of the modelled LLM latencies (0 turns them off).
    #[arg(long)]
    latency_scale: Option<f64>,
    /// Echo the raw query and leak SQL errors (for demonstrating robustness checks).
    #[arg(long)]
    naive: bool,
    /// Turn on the LLM-like mode with its defaults (model slots, a FIFO queue, answers
    /// streamed as tokens after seconds-scale prefill); the `--llm-*` flags imply it.
    #[arg(long)]
    llm: bool,
    /// LLM mode: model slots (queries answered at once).
    #[arg(long, value_name = "N")]
    llm_slots: Option<u32>,
    /// LLM mode: multiplier of every modelled time (0.01 for a short run).
    #[arg(long, value_name = "X")]
    llm_time_scale: Option<f64>,
    /// LLM mode: sigma of the log-normal draws (0 for exactly the agents' medians).
    #[arg(long, value_name = "S")]
    llm_sigma: Option<f64>,
}

impl BotArgs {
    fn config(&self) -> anyhow::Result<RefBotConfig> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read refbot config {}", path.display()))?;
                serde_json::from_str(&text)
                    .with_context(|| format!("invalid refbot config {}", path.display()))?
            }
            None => RefBotConfig::default(),
        };
        if let Some(database) = &self.database {
            config.database_path = database.clone();
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(scale) = self.latency_scale {
            config.latency_scale = scale;
        }
        config.naive |= self.naive;
        let llm_flags = self.llm
            || self.llm_slots.is_some()
            || self.llm_time_scale.is_some()
            || self.llm_sigma.is_some();
        if llm_flags {
            let llm = config.llm.get_or_insert_with(LlmConfig::default);
            if let Some(slots) = self.llm_slots {
                llm.slots = slots;
            }
            if let Some(scale) = self.llm_time_scale {
                llm.time_scale = scale;
            }
            if let Some(sigma) = self.llm_sigma {
                llm.sigma = sigma;
            }
        }
        Ok(config)
    }

    /// Opens the bot, generating the database first when it is missing.
    async fn open(&self) -> anyhow::Result<RefBot> {
        let config = self.config()?;
        let path = config.database_path.clone();
        if !path.exists() {
            eprintln!(
                "refbot: {} does not exist; generating the default fixture database",
                path.display()
            );
            perf_synth::generate_database(&path, &perf_synth::FixtureConfig::default())
                .await
                .with_context(|| format!("cannot generate message database {}", path.display()))?;
        }
        RefBot::open(config)
            .await
            .with_context(|| format!("cannot start refbot on {}", path.display()))
    }
}

#[derive(Debug, Args)]
struct AnswerArgs {
    #[command(flatten)]
    bot: BotArgs,
    /// The query text.
    query: String,
}

async fn answer(args: AnswerArgs) -> anyhow::Result<()> {
    use perf_core::{BotTarget, Query};
    let bot = args.bot.open().await?;
    let query = Query::new("cli-0", args.query, "cli");
    let result = bot.execute(&query).await;
    bot.shutdown().await.ok();
    let response = result.map_err(|e| anyhow::anyhow!("refbot failed to answer: {e}"))?;
    let out = serde_json::json!({
        "answer": response.answer,
        "agent": response.primary_agent(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Answer(args) => answer(args).await,
        Command::Serve(args) => serve::main(args).await,
        Command::Stdio(args) => stdio::main(args).await,
        Command::Discord(args) => discord::main(args).await,
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("refbot: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
