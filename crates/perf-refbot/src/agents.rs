//! The four agents: real SQL work on the message database, answers as plain text.
//!
//! Every statement is a constant string with bound parameters; user text only ever
//! reaches SQLite as a bound value.

use std::collections::HashMap;
use std::fmt::Write as _;

use sqlx::sqlite::SqlitePool;
use sqlx::Row;

use crate::route::{Directory, Named, Window};
use crate::text::{clean, content_terms, date, resolve_mentions, sentences};

/// Rows a digest reads for sentence extraction (the most recent ones in the window).
const DIGEST_ROW_LIMIT: i64 = 5_000;
/// Messages a user analysis reads for term statistics (the most recent ones).
const USER_TERM_ROWS: i64 = 2_000;
/// Longest snippet or sentence in an answer, in characters.
const SNIPPET_CHARS: usize = 200;
/// Longest name from the database in an answer, in characters.
const NAME_CHARS: usize = 64;

type Sql<T> = Result<T, sqlx::Error>;

fn name(s: &str) -> String {
    clean(s, NAME_CHARS)
}

/// Top `n` terms of `contents`, most frequent first (ties by term).
fn top_terms<'a>(contents: impl Iterator<Item = &'a str>, n: usize) -> Vec<(String, u64)> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for c in contents {
        for t in content_terms(c) {
            *counts.entry(t).or_default() += 1;
        }
    }
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

fn join_counts(items: &[(String, i64)], prefix: &str) -> String {
    items
        .iter()
        .map(|(n, c)| format!("{prefix}{} ({c} messages)", name(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Totals, busiest channels and users, recent activity.
pub(crate) async fn server_analysis(pool: &SqlitePool) -> Sql<String> {
    let row = sqlx::query(
        "SELECT count(*), min(created_at), max(created_at), count(DISTINCT author_id), \
         count(DISTINCT channel_id) FROM messages",
    )
    .fetch_one(pool)
    .await?;
    let total: i64 = row.try_get(0)?;
    let first: Option<i64> = row.try_get(1)?;
    let last: Option<i64> = row.try_get(2)?;
    let authors: i64 = row.try_get(3)?;
    let channel_count: i64 = row.try_get(4)?;
    let (Some(first), Some(last)) = (first, last) else {
        return Ok("The server has no messages yet, so there is nothing to analyze.".to_owned());
    };
    let channels: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.name, count(*) AS n FROM messages m JOIN channels c ON c.id = m.channel_id \
         GROUP BY c.id ORDER BY n DESC, c.name LIMIT 5",
    )
    .fetch_all(pool)
    .await?;
    let users: Vec<(String, i64)> = sqlx::query_as(
        "SELECT u.name, count(*) AS n FROM messages m JOIN users u ON u.id = m.author_id \
         GROUP BY u.id ORDER BY n DESC, u.name LIMIT 5",
    )
    .fetch_all(pool)
    .await?;
    let (recent, recent_authors): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT author_id) FROM messages WHERE created_at > ?1",
    )
    .bind(last - 7 * 86_400)
    .fetch_one(pool)
    .await?;
    let reactions: i64 = sqlx::query_scalar("SELECT coalesce(sum(count), 0) FROM reactions")
        .fetch_one(pool)
        .await?;

    let mut a = format!(
        "Server overview: {total} messages in {channel_count} channels from {authors} users, \
         {} to {}.",
        date(first),
        date(last)
    );
    if let Some((top, n)) = channels.first() {
        let _ = write!(
            a,
            "\nMost active channel: #{} with {n} messages.",
            name(top)
        );
    }
    if !channels.is_empty() {
        let _ = write!(a, "\nBusiest channels: {}.", join_counts(&channels, "#"));
    }
    if !users.is_empty() {
        let _ = write!(a, "\nMost active users: {}.", join_counts(&users, ""));
    }
    let _ = write!(
        a,
        "\nLast 7 days: {recent} messages from {recent_authors} users. Reactions overall: {reactions}."
    );
    Ok(a)
}

/// One user's activity: message count, channels, terms, reactions received.
pub(crate) async fn user_analysis(pool: &SqlitePool, user: &Named) -> Sql<String> {
    let (count, first, last): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT count(*), min(created_at), max(created_at) FROM messages WHERE author_id = ?1",
    )
    .bind(user.id)
    .fetch_one(pool)
    .await?;
    let who = name(&user.name);
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(format!(
            "{who} has written 0 messages in this server, so there is no activity to analyze."
        ));
    };
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(pool)
        .await?;
    let channels: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.name, count(*) AS n FROM messages m JOIN channels c ON c.id = m.channel_id \
         WHERE m.author_id = ?1 GROUP BY c.id ORDER BY n DESC, c.name LIMIT 3",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await?;
    let contents: Vec<String> = sqlx::query_scalar(
        "SELECT content FROM messages WHERE author_id = ?1 ORDER BY created_at DESC LIMIT ?2",
    )
    .bind(user.id)
    .bind(USER_TERM_ROWS)
    .fetch_all(pool)
    .await?;
    let (reactions, replies): (i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT coalesce(sum(r.count), 0) FROM reactions r \
              JOIN messages m ON m.id = r.message_id WHERE m.author_id = ?1), \
           (SELECT count(*) FROM messages WHERE author_id = ?1 AND reply_to IS NOT NULL)",
    )
    .bind(user.id)
    .fetch_one(pool)
    .await?;

    let share = if total > 0 {
        count as f64 * 100.0 / total as f64
    } else {
        0.0
    };
    let mut a = format!(
        "{who} has written {count} messages ({share:.1}% of the server's {total}), \
         from {} to {}.",
        date(first),
        date(last)
    );
    if !channels.is_empty() {
        let _ = write!(a, "\nMost active in: {}.", join_counts(&channels, "#"));
    }
    let terms = top_terms(contents.iter().map(String::as_str), 5);
    if !terms.is_empty() {
        let list: Vec<String> = terms.iter().map(|(t, n)| format!("{t} ({n})")).collect();
        let _ = write!(a, "\nUsually talks about: {}.", list.join(", "));
    }
    let _ = write!(
        a,
        "\nReplies written: {replies}. Reactions received: {reactions}."
    );
    Ok(a)
}

/// What to search for: the FTS5 MATCH expression and the terms to show.
#[derive(Debug)]
pub(crate) struct SearchRequest {
    /// Bound as the MATCH parameter.
    pub(crate) match_expr: String,
    /// Shown in the answer; each is also counted on its own when `per_term` is set.
    pub(crate) terms: Vec<String>,
    /// Count matches per term (each term is a safe quoted FTS5 string).
    pub(crate) per_term: bool,
}

/// Full-text search with bm25 ranking.
pub(crate) async fn semantic_search(
    pool: &SqlitePool,
    directory: &Directory,
    req: &SearchRequest,
) -> Sql<String> {
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1")
            .bind(&req.match_expr)
            .fetch_one(pool)
            .await?;
    let shown = req.terms.join(", ");
    if total == 0 {
        return Ok(format!(
            "No messages match {shown}. Try other words, a channel digest or a user name."
        ));
    }
    let rows = sqlx::query(
        "SELECT c.name, u.name, m.created_at, \
           snippet(messages_fts, 0, '**', '**', '…', 16) \
         FROM messages_fts \
         JOIN messages m ON m.id = messages_fts.rowid \
         LEFT JOIN channels c ON c.id = m.channel_id \
         LEFT JOIN users u ON u.id = m.author_id \
         WHERE messages_fts MATCH ?1 \
         ORDER BY bm25(messages_fts), m.id LIMIT 5",
    )
    .bind(&req.match_expr)
    .fetch_all(pool)
    .await?;

    let mut a = format!("Found {total} messages matching {shown}");
    if req.per_term && req.terms.len() > 1 {
        let mut parts = Vec::new();
        for t in &req.terms {
            let n: i64 =
                sqlx::query_scalar("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?1")
                    .bind(format!("\"{t}\""))
                    .fetch_one(pool)
                    .await?;
            parts.push(format!("{t} {n}"));
        }
        let _ = write!(a, " (per term: {})", parts.join(", "));
    }
    a.push_str(". Best matches:");
    for (i, r) in rows.iter().enumerate() {
        let channel: Option<String> = r.try_get(0)?;
        let author: Option<String> = r.try_get(1)?;
        let at: i64 = r.try_get(2)?;
        let snippet: Option<String> = r.try_get(3)?;
        // A highlighted mention id (`<@**12**>`) is still a mention.
        let snippet = snippet
            .unwrap_or_default()
            .replace("<@**", "<@")
            .replace("**>", ">");
        let snippet = resolve_mentions(&snippet, |id| directory.user_name(id));
        let _ = write!(
            a,
            "\n{}. #{} by {} on {}: {}",
            i + 1,
            name(channel.as_deref().unwrap_or("unknown")),
            name(author.as_deref().unwrap_or("unknown")),
            date(at),
            clean(&snippet, SNIPPET_CHARS)
        );
    }
    Ok(a)
}

/// An extractive digest of a channel (or the whole server) over a window that ends at
/// the latest message in the database.
pub(crate) async fn digest_generation(
    pool: &SqlitePool,
    directory: &Directory,
    channel: Option<&Named>,
    window: Window,
) -> Sql<String> {
    let scope = match channel {
        Some(c) => format!("#{}", name(&c.name)),
        None => "the whole server".to_owned(),
    };
    let latest: Option<i64> = sqlx::query_scalar("SELECT max(created_at) FROM messages")
        .fetch_one(pool)
        .await?;
    let Some(end) = latest else {
        return Ok(format!(
            "Digest of {scope}: the database has no messages yet."
        ));
    };
    let start = end.saturating_sub(window.secs);
    let channel_id = channel.map(|c| c.id);
    let (count, people): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT author_id) FROM messages \
         WHERE (?1 IS NULL OR channel_id = ?1) AND created_at > ?2 AND created_at <= ?3",
    )
    .bind(channel_id)
    .bind(start)
    .bind(end)
    .fetch_one(pool)
    .await?;
    let mut a = format!(
        "Digest of {scope} for {} ({} to {}): {count} messages from {people} people.",
        window.label(),
        date(start),
        date(end)
    );
    if count == 0 {
        a.push_str(" Nothing was posted there in that window.");
        return Ok(a);
    }
    let contributors: Vec<(String, i64)> = sqlx::query_as(
        "SELECT u.name, count(*) AS n FROM messages m JOIN users u ON u.id = m.author_id \
         WHERE (?1 IS NULL OR m.channel_id = ?1) AND m.created_at > ?2 AND m.created_at <= ?3 \
         GROUP BY u.id ORDER BY n DESC, u.name LIMIT 3",
    )
    .bind(channel_id)
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let rows = sqlx::query(
        "SELECT m.author_id, m.content, \
           (SELECT coalesce(sum(r.count), 0) FROM reactions r WHERE r.message_id = m.id), \
           coalesce(rp.n, 0) \
         FROM messages m \
         LEFT JOIN (SELECT reply_to, count(*) AS n FROM messages \
                    WHERE (?1 IS NULL OR channel_id = ?1) AND created_at > ?2 \
                      AND reply_to IS NOT NULL GROUP BY reply_to) rp ON rp.reply_to = m.id \
         WHERE (?1 IS NULL OR m.channel_id = ?1) AND m.created_at > ?2 AND m.created_at <= ?3 \
         ORDER BY m.created_at DESC, m.id DESC LIMIT ?4",
    )
    .bind(channel_id)
    .bind(start)
    .bind(end)
    .bind(DIGEST_ROW_LIMIT)
    .fetch_all(pool)
    .await?;

    struct Msg {
        author: i64,
        content: String,
        reactions: i64,
        replies: i64,
    }
    let mut msgs = Vec::with_capacity(rows.len());
    for r in &rows {
        let content: String = r.try_get(1)?;
        msgs.push(Msg {
            author: r.try_get(0)?,
            content: resolve_mentions(&content, |id| directory.user_name(id)),
            reactions: r.try_get(2)?,
            replies: r.try_get(3)?,
        });
    }
    let tf: HashMap<String, u64> = top_terms(msgs.iter().map(|m| m.content.as_str()), usize::MAX)
        .into_iter()
        .collect();

    // Score = reactions + 2 × replies + mean log term frequency: what people reacted to,
    // argued about, and what matches the window's main topics.
    let mut best: HashMap<String, (f64, String, usize)> = HashMap::new();
    for (i, m) in msgs.iter().enumerate() {
        for s in sentences(&m.content) {
            let terms: Vec<String> = content_terms(&s).collect();
            let weight = if terms.is_empty() {
                0.0
            } else {
                terms
                    .iter()
                    .map(|t| (1.0 + tf.get(t).copied().unwrap_or(0) as f64).ln())
                    .sum::<f64>()
                    / terms.len() as f64
            };
            let score = m.reactions as f64 + 2.0 * m.replies as f64 + weight;
            let key = s.to_lowercase();
            let entry = best.entry(key).or_insert((f64::MIN, String::new(), i));
            if score > entry.0 {
                *entry = (score, s, i);
            }
        }
    }
    let mut ranked: Vec<(f64, String, usize)> = best.into_values().collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.2.cmp(&b.2)));

    if !contributors.is_empty() {
        let _ = write!(a, "\nTop contributors: {}.", join_counts(&contributors, ""));
    }
    let topics: Vec<&str> = {
        let mut t: Vec<(&String, &u64)> = tf.iter().collect();
        t.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        t.into_iter().take(5).map(|(k, _)| k.as_str()).collect()
    };
    if !topics.is_empty() {
        let _ = write!(a, "\nMain topics: {}.", topics.join(", "));
    }
    if !ranked.is_empty() {
        a.push_str("\nHighlights:");
        for (_, s, i) in ranked.iter().take(3) {
            let m = &msgs[*i];
            let who = directory
                .user_name(m.author)
                .unwrap_or_else(|| "someone".to_owned());
            let _ = write!(
                a,
                "\n- {}: {} ({} reactions, {} replies)",
                name(&who),
                clean(s, SNIPPET_CHARS),
                m.reactions,
                m.replies
            );
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_terms_rank_by_count_then_term() {
        let t = top_terms(["rust rust tokio", "tokio async rust"].into_iter(), 2);
        assert_eq!(t, vec![("rust".into(), 3), ("tokio".into(), 2)]);
    }
}
