//! Speed of perf-synth's phase-3 pieces: building every scenario plan, importing
//! DiscordChatExporter exports (first time and again, idempotently), and the wall time of
//! the edge-case scenario against the reference bot with its default latency model.
//!
//! `cargo run --release -p perf-refbot --example synth_bench`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use perf_core::{check_expectations, BotTarget, Outcome, Sample};
use perf_refbot::{RefBot, RefBotConfig};
use perf_synth::{
    analyze_content, generate_database, import_discord_exports, open_database, robustness_report,
    FixtureConfig, ScenarioRegistry, SyntheticFlags, DEFAULT_SCALE, EDGE_SCENARIO,
};
use serde_json::json;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Writes `channels` export files with `per_channel` messages each, current format.
fn write_exports(dir: &std::path::Path, channels: u64, per_channel: u64) -> Vec<PathBuf> {
    let words = [
        "rust", "tokio", "meetup", "pizza", "release", "async", "music", "raid",
    ];
    (0..channels)
        .map(|c| {
            let messages: Vec<serde_json::Value> = (0..per_channel)
                .map(|i| {
                    let id = 1_100_000_000_000_000_000 + c * 1_000_000 + i;
                    let author = 800_000_000_000_000_000 + (i * 7 + c) % 150;
                    json!({
                        "id": id.to_string(),
                        "type": if i % 10 == 3 { "Reply" } else { "Default" },
                        "timestamp": format!("2024-05-{:02}T{:02}:{:02}:00.000+02:00", 1 + i % 28, i % 24, i % 60),
                        "timestampEdited": null,
                        "isPinned": false,
                        "content": format!("{} and {} message {i}", words[(i % 8) as usize], words[((i / 8) % 8) as usize]),
                        "author": {"id": author.to_string(), "name": format!("user{}", author % 1000), "discriminator": "0000", "nickname": null, "isBot": false, "roles": [], "avatarUrl": ""},
                        "attachments": [], "embeds": [], "stickers": [],
                        "reactions": if i % 5 == 0 { json!([{"emoji": {"id": null, "name": "👍", "code": "thumbsup", "isAnimated": false, "imageUrl": ""}, "count": 2}]) } else { json!([]) },
                        "mentions": [],
                        "reference": if i % 10 == 3 { json!({"messageId": (id - 1).to_string(), "channelId": null, "guildId": null}) } else { json!(null) },
                        "inlineEmojis": []
                    })
                })
                .collect();
            let doc = json!({
                "guild": {"id": "900000000000000001", "name": "Bench", "iconUrl": ""},
                "channel": {"id": (900_000_000_000_000_100u64 + c).to_string(), "type": "GuildTextChat", "categoryId": null, "category": null, "name": format!("channel-{c}"), "topic": null},
                "messages": messages,
                "messageCount": per_channel
            });
            let p = dir.join(format!("channel-{c}.json"));
            std::fs::write(&p, serde_json::to_vec(&doc).expect("json")).expect("write export");
            p
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fixture.db");
    generate_database(&db, &FixtureConfig::default())
        .await
        .expect("fixture");
    let pool = open_database(&db).await.expect("open");
    let content = analyze_content(&pool, &db).await.expect("analyze");
    pool.close().await;

    // 1. Plans for every built-in scenario.
    let registry = ScenarioRegistry::with_builtins();
    let flags = SyntheticFlags::default();
    for scale in [1.0, DEFAULT_SCALE] {
        let mut times = Vec::new();
        let mut queries = 0;
        for seed in 0..7 {
            let t = Instant::now();
            let plans = registry
                .plans(&flags, &content, seed, scale)
                .expect("plans");
            times.push(t.elapsed());
            queries = plans.iter().map(|p| p.queries.len()).sum::<usize>();
        }
        let m = median(times);
        println!(
            "plans scale {scale}: {queries} queries in {:.1} ms (median of 7), {:.2} µs/query",
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() * 1e6 / queries as f64
        );
    }

    // 2. Import, then the same import again (adds nothing).
    let exports = write_exports(dir.path(), 4, 5_000);
    let target = dir.path().join("imported.db");
    let t = Instant::now();
    let first = import_discord_exports(&target, &exports)
        .await
        .expect("import");
    let first_t = t.elapsed();
    let t = Instant::now();
    let again = import_discord_exports(&target, &exports)
        .await
        .expect("re-import");
    let again_t = t.elapsed();
    println!(
        "import: {} messages in {:.2} s ({:.0} messages/s); again: {} added in {:.2} s (ratio {:.2})",
        first.messages_added,
        first_t.as_secs_f64(),
        first.messages_added as f64 / first_t.as_secs_f64(),
        again.messages_added,
        again_t.as_secs_f64(),
        again_t.as_secs_f64() / first_t.as_secs_f64()
    );

    // 3. The edge-case scenario against the reference bot at its default latency model,
    //    one query at a time as the scenario's one-user closed loop sends them (the suite
    //    sends the pairs on every configured user: about this time over the concurrency).
    let bot = RefBot::open(RefBotConfig {
        database_path: db.clone(),
        ..RefBotConfig::default()
    })
    .await
    .expect("refbot");
    let plans = registry
        .plans(&flags, &content, 42, DEFAULT_SCALE)
        .expect("plans");
    let edge = plans
        .iter()
        .find(|p| p.info.name == EDGE_SCENARIO)
        .expect("edge plan");
    let mut samples = Vec::with_capacity(edge.queries.len());
    let t = Instant::now();
    for q in &edge.queries {
        let s = Instant::now();
        let r = bot.execute(q).await;
        let us = s.elapsed().as_micros() as u64;
        let (outcome, failed) = match &r {
            Ok(resp) => {
                let f = check_expectations(&q.expectations, resp);
                (
                    if f.is_empty() {
                        Outcome::Ok
                    } else {
                        Outcome::FailedExpectation
                    },
                    f,
                )
            }
            Err(e) => (Outcome::Error(e.kind), Vec::new()),
        };
        samples.push(Sample {
            expected_agent: q.expected_agent.clone(),
            agent: r
                .as_ref()
                .ok()
                .and_then(|x| x.primary_agent().map(str::to_owned)),
            failed_expectations: failed,
            ..Sample::new(&q.id, &q.scenario, &q.category, outcome, us)
        });
    }
    let wall = t.elapsed();
    let report = robustness_report(&samples, 1.0);
    let sched: Duration = plans
        .iter()
        .filter(|p| p.kind.is_scaled())
        .filter_map(|p| p.load.duration())
        .sum();
    println!(
        "edge cases vs refbot: {} queries in {:.1} s (mean {:.0} ms), all classes passed: {}",
        edge.queries.len(),
        wall.as_secs_f64(),
        wall.as_secs_f64() * 1e3 / edge.queries.len() as f64,
        report.passed()
    );
    println!(
        "stress + load schedule at scale {DEFAULT_SCALE}: {:.1} s",
        sched.as_secs_f64()
    );
}
