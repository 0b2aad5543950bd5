use std::path::{Path, PathBuf};

use perf_core::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::db::{connect, create_schema};
use crate::words::{
    CHANNELS, CLOSERS, CODE_SNIPPETS, EMOJI, FILLERS, FIRST_NAMES, LINKS, NAME_STYLES, OPENERS,
};
use crate::SynthError;

/// Shape of a generated message database. The default matches the original suite's
/// example run: about 15,000 messages in 8 channels from 156 users over four months.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixtureConfig {
    /// Seed; the same seed gives the same database.
    pub seed: u64,
    /// Messages to write.
    pub messages: u32,
    /// Users (at most 400).
    pub users: u32,
    /// Days of history.
    pub days: u32,
}

impl Default for FixtureConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            messages: 15_000,
            users: 156,
            days: 120,
        }
    }
}

/// The last generated timestamp, fixed so the same seed always gives the same database:
/// 2024-06-30T00:00:00Z.
const END_OF_HISTORY: i64 = 1_719_705_600;

/// Zipf-like weights `1 / (rank + 1)^s`, as cumulative sums for sampling.
fn zipf_cumulative(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|i| {
            acc += 1.0 / ((i + 1) as f64).powf(s);
            acc
        })
        .collect()
}

fn sample_cumulative(rng: &mut SplitMix64, cum: &[f64]) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    let x = rng.next_f64() * total;
    cum.partition_point(|&c| c <= x)
        .min(cum.len().saturating_sub(1))
}

struct Message {
    id: i64,
    channel: usize,
    author: usize,
    content: String,
    created_at: i64,
    reply_to: Option<i64>,
    mentions: Vec<usize>,
    reactions: Vec<(&'static str, i64)>,
}

/// Writes a deterministic Discord-like server to `path`: channels, users with Zipf-like
/// activity, replies, mentions, reactions, emoji, code blocks and links over months of
/// timestamps. The database is built in a temporary file next to `path` and renamed into
/// place, so an interrupted generation never leaves a half-written database.
pub async fn generate_database(path: &Path, config: &FixtureConfig) -> Result<(), SynthError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let tmp = PathBuf::from(format!("{}.tmp-{}", path.display(), std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = write_database(&tmp, config).await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| SynthError::Io {
        path: path.to_owned(),
        source,
    })
}

async fn write_database(path: &Path, config: &FixtureConfig) -> Result<(), SynthError> {
    let pool = connect(path, true).await?;
    let sql_err = |source| SynthError::Sql {
        path: path.to_owned(),
        source,
    };
    let users = make_users(config);
    let messages = make_messages(config, users.len());

    let mut tx = pool.begin().await.map_err(sql_err)?;
    let meta = [
        ("generator", "perf-synth".to_owned()),
        ("seed", config.seed.to_string()),
    ];
    create_schema(&mut tx, &meta).await.map_err(sql_err)?;
    for (i, (name, topic, _)) in CHANNELS.iter().enumerate() {
        sqlx::query("INSERT INTO channels (id, name, topic) VALUES (?1, ?2, ?3)")
            .bind(i as i64 + 1)
            .bind(name)
            .bind(topic)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
    }
    for (i, (name, display)) in users.iter().enumerate() {
        sqlx::query("INSERT INTO users (id, name, display_name, is_bot) VALUES (?1, ?2, ?3, 0)")
            .bind(i as i64 + 1)
            .bind(name)
            .bind(display)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
    }
    for m in &messages {
        sqlx::query(
            "INSERT INTO messages (id, channel_id, author_id, content, created_at, reply_to) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(m.id)
        .bind(m.channel as i64 + 1)
        .bind(m.author as i64 + 1)
        .bind(&m.content)
        .bind(m.created_at)
        .bind(m.reply_to)
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?;
        for u in &m.mentions {
            sqlx::query("INSERT OR IGNORE INTO mentions (message_id, user_id) VALUES (?1, ?2)")
                .bind(m.id)
                .bind(*u as i64 + 1)
                .execute(&mut *tx)
                .await
                .map_err(sql_err)?;
        }
        for (emoji, count) in &m.reactions {
            sqlx::query(
                "INSERT OR IGNORE INTO reactions (message_id, emoji, count) VALUES (?1, ?2, ?3)",
            )
            .bind(m.id)
            .bind(emoji)
            .bind(count)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
        }
    }
    sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?;
    tx.commit().await.map_err(sql_err)?;
    pool.close().await;
    Ok(())
}

fn make_users(config: &FixtureConfig) -> Vec<(String, String)> {
    let mut rng = SplitMix64::derive(config.seed, "users");
    let n = config.users.clamp(1, 400) as usize;
    let mut names: Vec<(String, String)> = Vec::with_capacity(n);
    let mut i = 0usize;
    while names.len() < n {
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let style = NAME_STYLES[(i / FIRST_NAMES.len() + rng.index(2)) % NAME_STYLES.len()];
        let name = format!("{first}{style}");
        if !names.iter().any(|(n, _)| *n == name) {
            let mut display = first.to_owned();
            if let Some(c) = display.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            names.push((name, display));
        }
        i += 1;
    }
    // Shuffle so activity rank does not follow the alphabet (Fisher–Yates).
    for k in (1..names.len()).rev() {
        names.swap(k, rng.index(k + 1));
    }
    names
}

fn make_messages(config: &FixtureConfig, users: usize) -> Vec<Message> {
    let mut rng = SplitMix64::derive(config.seed, "messages");
    let user_cum = zipf_cumulative(users, 1.07);
    let chan_cum = zipf_cumulative(CHANNELS.len(), 0.9);
    let n = config.messages as usize;
    let span = i64::from(config.days.max(1)) * 86_400;
    let start = END_OF_HISTORY - span;

    // Times first, sorted, so ids follow time like Discord snowflakes.
    let mut times: Vec<i64> = (0..n)
        .map(|_| {
            let day = rng.below(config.days.max(1) as u64) as i64;
            // Busier evenings: hour drawn from a triangle peaking at 20:00 UTC.
            let hour = ((rng.next_f64() + rng.next_f64()) * 12.0 + 8.0) as i64 % 24;
            start + day * 86_400 + hour * 3_600 + rng.below(3_600) as i64
        })
        .collect();
    times.sort_unstable();

    let mut last_in_channel: Vec<Vec<i64>> = vec![Vec::new(); CHANNELS.len()];
    let mut out = Vec::with_capacity(n);
    for (i, created_at) in times.into_iter().enumerate() {
        let id = i as i64 + 1;
        let channel = sample_cumulative(&mut rng, &chan_cum);
        let author = sample_cumulative(&mut rng, &user_cum);
        let (_, _, vocab) = CHANNELS[channel];
        let mut content = String::new();
        let mut mentions = Vec::new();
        if rng.chance(0.08) {
            let m = sample_cumulative(&mut rng, &user_cum);
            mentions.push(m);
            content.push_str(&format!("<@{}> ", m + 1));
        }
        let opener = rng.pick(OPENERS).copied().unwrap_or("");
        let filler = rng.pick(FILLERS).copied().unwrap_or("");
        let w1 = rng.pick(vocab).copied().unwrap_or("");
        let w2 = rng.pick(vocab).copied().unwrap_or("");
        content.push_str(&format!("{opener} {filler} {w1}"));
        if rng.chance(0.5) {
            content.push_str(&format!(" and {w2}"));
        }
        let closer = rng.pick(CLOSERS).copied().unwrap_or("");
        content.push(' ');
        content.push_str(closer);
        if rng.chance(0.06) {
            content.push('\n');
            content.push_str(rng.pick(CODE_SNIPPETS).copied().unwrap_or(""));
        }
        if rng.chance(0.05) {
            content.push(' ');
            content.push_str(rng.pick(LINKS).copied().unwrap_or(""));
        }
        if rng.chance(0.1) {
            content.push(' ');
            content.push_str(rng.pick(EMOJI).copied().unwrap_or(""));
        }
        let recent = &last_in_channel[channel];
        let reply_to = (rng.chance(0.15) && !recent.is_empty())
            .then(|| recent[recent.len() - 1 - rng.index(recent.len().min(20))]);
        let mut reactions = Vec::new();
        if rng.chance(0.2) {
            let kinds = 1 + rng.index(3);
            for _ in 0..kinds {
                let e = rng.pick(EMOJI).copied().unwrap_or("👍");
                if !reactions.iter().any(|(x, _)| *x == e) {
                    reactions.push((e, 1 + rng.below(12) as i64));
                }
            }
        }
        last_in_channel[channel].push(id);
        out.push(Message {
            id,
            channel,
            author,
            content,
            created_at,
            reply_to,
            mentions,
            reactions,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row;

    async fn digest(path: &Path) -> (i64, String) {
        let pool = connect(path, false).await.unwrap();
        let row = sqlx::query(
            "SELECT count(*), group_concat(content || created_at, '|') FROM \
             (SELECT content, created_at FROM messages ORDER BY id)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        (row.get(0), row.get(1))
    }

    #[tokio::test]
    async fn same_seed_same_database_and_a_realistic_shape() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = FixtureConfig {
            messages: 2_000,
            ..FixtureConfig::default()
        };
        let a = dir.path().join("nested/a.db");
        let b = dir.path().join("b.db");
        generate_database(&a, &cfg).await.unwrap();
        generate_database(&b, &cfg).await.unwrap();
        assert_eq!(digest(&a).await, digest(&b).await);

        let c = dir.path().join("c.db");
        generate_database(
            &c,
            &FixtureConfig {
                seed: 7,
                ..cfg.clone()
            },
        )
        .await
        .unwrap();
        assert_ne!(digest(&a).await.1, digest(&c).await.1);

        let pool = connect(&a, false).await.unwrap();
        let counts: Vec<i64> =
            sqlx::query("SELECT count(*) FROM messages GROUP BY author_id ORDER BY count(*) DESC")
                .fetch_all(&pool)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
        // Zipf-like: the busiest user writes far more than the median one.
        assert!(counts[0] > 5 * counts[counts.len() / 2], "{counts:?}");
        let replies: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages WHERE reply_to IS NOT NULL")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(replies > 100);
        let fts: i64 =
            sqlx::query_scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'rust'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(fts > 0);
        assert!(!dir.path().join("nested/a.db.tmp").exists());
    }
}
