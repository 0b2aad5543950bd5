use std::collections::HashMap;
use std::path::Path;

use perf_core::{ChannelStat, ContentProfile, TermStat, UserStat};
use sqlx::sqlite::SqlitePool;

use crate::words::is_stop_word;
use crate::SynthError;

/// Terms kept in the profile.
const TOP_TERMS: usize = 50;

/// Reads what a message database contains: totals, channels and users by activity, time
/// span and the most frequent terms. `path` is only used in error messages.
pub async fn analyze_content(pool: &SqlitePool, path: &Path) -> Result<ContentProfile, SynthError> {
    let sql_err = |source| SynthError::Sql {
        path: path.to_owned(),
        source,
    };
    let (total, first, last): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT count(*), min(created_at), max(created_at) FROM messages")
            .fetch_one(pool)
            .await
            .map_err(sql_err)?;
    // Names with their message counts, busiest first (ties by name, so the order is stable).
    let ranked = |sql: &'static str| async move {
        sqlx::query_as::<_, (String, i64)>(sql)
            .fetch_all(pool)
            .await
            .map(|rows| rows.into_iter().map(|(name, n)| (name, n.max(0) as u64)))
    };
    let channels = ranked(
        "SELECT c.name, count(m.id) AS n FROM messages m JOIN channels c ON c.id = m.channel_id \
         GROUP BY c.id ORDER BY n DESC, c.name",
    )
    .await
    .map_err(sql_err)?
    .map(|(name, messages)| ChannelStat { name, messages })
    .collect();
    let users = ranked(
        "SELECT u.name, count(m.id) AS n FROM messages m JOIN users u ON u.id = m.author_id \
         GROUP BY u.id ORDER BY n DESC, u.name",
    )
    .await
    .map_err(sql_err)?
    .map(|(name, messages)| UserStat { name, messages })
    .collect();

    let mut counts: HashMap<String, u64> = HashMap::new();
    let contents: Vec<String> = sqlx::query_scalar("SELECT content FROM messages")
        .fetch_all(pool)
        .await
        .map_err(sql_err)?;
    for content in &contents {
        for term in terms(content) {
            *counts.entry(term).or_default() += 1;
        }
    }
    let mut top: Vec<TermStat> = counts
        .into_iter()
        .map(|(term, count)| TermStat { term, count })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.term.cmp(&b.term)));
    top.truncate(TOP_TERMS);

    Ok(ContentProfile {
        total_messages: total.max(0) as u64,
        channels,
        users,
        top_terms: top,
        first_message_at: first.unwrap_or(0),
        last_message_at: last.unwrap_or(0),
    })
}

/// Content terms of a message: lower-case words of three or more letters that are not
/// stop words, numbers, or parts of links and mentions.
pub(crate) fn terms(content: &str) -> impl Iterator<Item = String> + '_ {
    content
        .split_whitespace()
        .filter(|w| !w.contains("://") && !w.starts_with("<@"))
        .flat_map(|w| w.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 3 && !w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_lowercase)
        .filter(|w| !is_stop_word(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate_database, open_database, FixtureConfig};

    #[test]
    fn terms_skip_links_mentions_and_stop_words() {
        let t: Vec<String> =
            terms("<@12> The Rust compiler https://docs.rs/x is great, 2024 ok").collect();
        assert_eq!(t, vec!["rust", "compiler", "great"]);
    }

    #[tokio::test]
    async fn profile_matches_the_generated_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let cfg = FixtureConfig {
            messages: 3_000,
            ..FixtureConfig::default()
        };
        generate_database(&path, &cfg).await.unwrap();
        let pool = open_database(&path).await.unwrap();
        let p = analyze_content(&pool, &path).await.unwrap();
        assert_eq!(p.total_messages, 3_000);
        assert_eq!(p.active_channels(), 8);
        assert_eq!(p.channels.iter().map(|c| c.messages).sum::<u64>(), 3_000);
        assert!(p
            .channels
            .windows(2)
            .all(|w| w[0].messages >= w[1].messages));
        assert!(p.active_users() > 100);
        assert!(p.span_days() > 100.0);
        assert!(!p.top_terms.is_empty());
        assert!(p.top_terms.iter().all(|t| !is_stop_word(&t.term)));
    }
}
