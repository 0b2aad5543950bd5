//! Embedding the runner: your own bot in process, five users, a terminal summary, and a
//! baseline saved on the first run and compared on the next. `cargo run -p embed-runner`.

use std::sync::Arc;
use std::time::Duration;

use perf_baseline::{Baseline, BaselineStore, EnvironmentFingerprint, Thresholds, WriteMode};
use perf_core::record::RunResult;
use perf_core::{async_trait, BotResponse, BotTarget, LoadProfile, Query};
use perf_core::{TargetError, TargetInfo, Transport};
use perf_runner::{Plan, Runner, RunnerConfig};

/// The bot under test: replace the body of `execute` with a call into your own bot.
struct MyBot;

#[async_trait]
impl BotTarget for MyBot {
    fn redactor(&self) -> perf_core::Redactor {
        perf_core::Redactor::default()
    }
    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        tokio::time::sleep(Duration::from_millis(20)).await; // the model call
        Ok(BotResponse::new(
            format!("re: {}", query.text),
            &query.category,
        ))
    }

    fn describe(&self) -> TargetInfo {
        let name = "my-bot".to_owned();
        TargetInfo {
            name,
            version: Some("1.0".into()),
            transport: Transport::InProcess,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queries: Vec<Query> = (0..200)
        .map(|i| {
            let (text, agent) = match i % 4 {
                0 => ("summarize #general", "digest_generation"),
                _ => ("find messages about rust", "semantic_search"),
            };
            Query::new(format!("q{i}"), text, agent)
                .with_scenario("embedded")
                .with_expected_agent(agent)
        })
        .collect();
    // Five users, at most 100 starts a second (a ceiling, as in the original suite).
    let plan = Plan::new(queries, LoadProfile::closed(5, Some(100.0)));
    let runner = Runner::new(Arc::new(MyBot), RunnerConfig::default());
    let mut result = RunResult::new("embedded", "", MyBot.describe());
    runner.initialize().await?;
    runner.run(&plan, &mut result).await?;
    runner.shutdown().await?;
    print!("{}", perf_report::render_terminal(&result, false));

    let dir = std::env::temp_dir().join("embed-runner-baselines");
    let store = BaselineStore::new(dir);
    let env = EnvironmentFingerprint::detect(&result.target, "embed-runner");
    if store.exists("my-bot")? {
        let base = store.load("my-bot")?;
        let options = Default::default();
        let c = perf_baseline::compare(&base, &result, &env, &Thresholds::default(), &options)?;
        println!("against baseline my-bot: {:?}", c.overall);
    } else {
        let path = store.save(
            &Baseline::from_run("my-bot", &result, env),
            WriteMode::CreateNew,
        )?;
        println!("baseline saved: {}", path.display());
    }
    Ok(())
}
