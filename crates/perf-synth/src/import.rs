//! Imports DiscordChatExporter JSON exports into the message database, so content
//! analysis and query generation run on a real server's messages.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use sqlx::sqlite::SqlitePool;
use sqlx::{Sqlite, Transaction};

use crate::db::{connect, create_schema, validate_schema};
use crate::SynthError;

/// What an import added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportStats {
    /// Export files read.
    pub files: usize,
    /// Whether the database was created by this import.
    pub created_database: bool,
    /// Channels added.
    pub channels_added: u64,
    /// Users added (authors and mentioned users).
    pub users_added: u64,
    /// Messages added.
    pub messages_added: u64,
    /// Messages already in the database (an earlier import), left as they were.
    pub messages_already_present: u64,
    /// System messages (joins, pins, boosts, ...) not imported.
    pub system_messages_skipped: u64,
    /// Mentions added.
    pub mentions_added: u64,
    /// Reactions added.
    pub reactions_added: u64,
}

impl ImportStats {
    fn add(&mut self, o: &ImportStats) {
        self.files += o.files;
        self.channels_added += o.channels_added;
        self.users_added += o.users_added;
        self.messages_added += o.messages_added;
        self.messages_already_present += o.messages_already_present;
        self.system_messages_skipped += o.system_messages_skipped;
        self.mentions_added += o.mentions_added;
        self.reactions_added += o.reactions_added;
    }
}

/// A Discord snowflake, written as a string (or, by some tools, a number).
fn snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(u64),
        Str(String),
    }
    let n = match Raw::deserialize(d)? {
        Raw::Num(n) => n,
        Raw::Str(s) => s.trim().parse::<u64>().map_err(|_| {
            serde::de::Error::custom(format!("id {s:?} is not a Discord snowflake (digits)"))
        })?,
    };
    i64::try_from(n)
        .map_err(|_| serde::de::Error::custom(format!("id {n} is too large for a snowflake")))
}

fn opt_snowflake<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "snowflake")] i64);
    Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
}

#[derive(Deserialize)]
struct Export<'a> {
    channel: Channel,
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Channel {
    #[serde(deserialize_with = "snowflake")]
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    topic: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    #[serde(deserialize_with = "snowflake")]
    id: i64,
    #[serde(default, rename = "type")]
    kind: Option<serde_json::Value>,
    timestamp: String,
    #[serde(default)]
    timestamp_edited: Option<String>,
    #[serde(default)]
    content: Option<String>,
    author: Author,
    #[serde(default)]
    reactions: Option<Vec<Reaction>>,
    #[serde(default)]
    mentions: Option<Vec<Author>>,
    #[serde(default)]
    reference: Option<Reference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Author {
    #[serde(deserialize_with = "snowflake")]
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    is_bot: Option<bool>,
}

#[derive(Deserialize)]
struct Reaction {
    emoji: Emoji,
    #[serde(default)]
    count: Option<i64>,
}

#[derive(Deserialize)]
struct Emoji {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    #[serde(default, deserialize_with = "opt_snowflake")]
    message_id: Option<i64>,
}

/// Message types with user content; the others (joins, pins, boosts, calls) are skipped.
/// Old exports have no type at all; numeric types are Discord's own codes.
fn is_content_message(kind: Option<&serde_json::Value>) -> bool {
    match kind {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => matches!(
            s.as_str(),
            "Default" | "Reply" | "ChatInputCommand" | "ContextMenuCommand" | ""
        ),
        Some(serde_json::Value::Number(n)) => matches!(n.as_u64(), Some(0 | 19 | 20 | 23)),
        Some(_) => false,
    }
}

/// Unix seconds of an RFC 3339 timestamp with any UTC offset.
fn unix_seconds(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
}

impl Emoji {
    /// The stored emoji: the Unicode emoji or custom emoji's name; `:id:` when a custom
    /// emoji has no name.
    fn key(&self) -> Option<String> {
        let non_empty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        non_empty(&self.name)
            .or_else(|| non_empty(&self.code))
            .or_else(|| non_empty(&self.id).map(|id| format!(":{id}:")))
    }
}

/// Imports DiscordChatExporter JSON exports (files, or directories searched recursively
/// for `*.json`) into the message database at `db_path`, creating it when missing.
///
/// Idempotent: snowflake ids are the primary keys and rows are inserted with
/// `INSERT OR IGNORE`, so importing the same export twice adds nothing. Each file is
/// imported in one transaction: a malformed file is reported (file, line, column, what)
/// and leaves nothing of itself behind; files before it stay imported, and running the
/// import again after fixing it is safe. The full-text index is kept in step inside each
/// transaction and rebuilt at the end.
pub async fn import_discord_exports(
    db_path: &Path,
    paths: &[PathBuf],
) -> Result<ImportStats, SynthError> {
    let files = export_files(paths)?;
    let (pool, created) = open_or_create(db_path).await?;
    let mut stats = ImportStats {
        created_database: created,
        ..ImportStats::default()
    };
    let result = import_files(&pool, db_path, &files, &mut stats).await;
    let rebuild = sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        .execute(&pool)
        .await
        .map_err(|source| SynthError::Sql {
            path: db_path.to_owned(),
            source,
        });
    pool.close().await;
    result?;
    rebuild?;
    Ok(stats)
}

async fn import_files(
    pool: &SqlitePool,
    db_path: &Path,
    files: &[PathBuf],
    stats: &mut ImportStats,
) -> Result<(), SynthError> {
    for f in files {
        let s = import_file(pool, db_path, f).await?;
        stats.add(&s);
        tracing::debug!(file = %f.display(), messages = s.messages_added, "imported");
    }
    Ok(())
}

/// Every `*.json` file under `paths`, in a stable order; a path given explicitly is used
/// whatever its extension.
fn export_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SynthError> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SynthError> {
        let read_err = |source| SynthError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_err)?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else if p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"))
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.is_file() {
            out.push(p.clone());
        } else if let Some(what) = crate::not_a_regular_file(p) {
            return Err(SynthError::Import {
                path: p.clone(),
                line: None,
                column: None,
                reason: format!(
                    "it is {what}; give DiscordChatExporter JSON files or directories of them"
                ),
            });
        } else {
            return Err(SynthError::Import {
                path: p.clone(),
                line: None,
                column: None,
                reason: "no such file or directory".to_owned(),
            });
        }
    }
    Ok(out)
}

async fn open_or_create(db_path: &Path) -> Result<(SqlitePool, bool), SynthError> {
    if db_path.exists() {
        let pool = connect(db_path, false).await?;
        validate_schema(&pool, db_path).await?;
        return Ok((pool, false));
    }
    if let Some(dir) = db_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| SynthError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    let pool = connect(db_path, true).await?;
    let sql_err = |source| SynthError::Sql {
        path: db_path.to_owned(),
        source,
    };
    let mut tx = pool.begin().await.map_err(sql_err)?;
    create_schema(&mut tx, &[("generator", "discord-import".to_owned())])
        .await
        .map_err(sql_err)?;
    tx.commit().await.map_err(sql_err)?;
    Ok((pool, true))
}

/// Parses one export completely (so a malformed file is found before anything is
/// written), then writes it in one transaction.
async fn import_file(
    pool: &SqlitePool,
    db_path: &Path,
    path: &Path,
) -> Result<ImportStats, SynthError> {
    let text = std::fs::read_to_string(path).map_err(|source| SynthError::Read {
        path: path.to_owned(),
        source,
    })?;
    let bad = |offset: usize, e: serde_json::Error, what: String| {
        let (bl, bc) = perf_core::line_col(&text, offset);
        let (line, column) = if e.line() == 0 {
            (bl, bc)
        } else if e.line() == 1 {
            (bl, bc + e.column().saturating_sub(1))
        } else {
            (bl + e.line() - 1, e.column())
        };
        let msg = e.to_string();
        let msg = msg
            .rsplit_once(" at line ")
            .map_or(msg.as_str(), |(m, _)| m);
        SynthError::Import {
            path: path.to_owned(),
            line: Some(line),
            column: Some(column),
            reason: format!("{what}{msg} (is this a DiscordChatExporter JSON export?)"),
        }
    };
    let export: Export<'_> = serde_json::from_str(&text).map_err(|e| bad(0, e, String::new()))?;
    let mut messages = Vec::with_capacity(export.messages.len());
    for (i, raw) in export.messages.iter().enumerate() {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        let m: Message = serde_json::from_str(raw.get())
            .map_err(|e| bad(offset, e, format!("messages[{i}]: ")))?;
        // Points at the field when it can be found, else at the message.
        let invalid = |field: &str, what: String| {
            let at = raw
                .get()
                .find(&format!("\"{field}\""))
                .map_or(offset, |o| offset + o);
            let (line, column) = perf_core::line_col(&text, at);
            SynthError::Import {
                path: path.to_owned(),
                line: Some(line),
                column: Some(column),
                reason: format!("messages[{i}] (id {}): {what}", m.id),
            }
        };
        let created = unix_seconds(&m.timestamp).ok_or_else(|| {
            invalid(
                "timestamp",
                format!(
                    "timestamp {:?} is not an RFC 3339 date and time",
                    m.timestamp
                ),
            )
        })?;
        let edited = match m
            .timestamp_edited
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            None => None,
            Some(s) => Some(unix_seconds(s).ok_or_else(|| {
                invalid(
                    "timestampEdited",
                    format!("timestampEdited {s:?} is not an RFC 3339 date and time"),
                )
            })?),
        };
        messages.push((m, created, edited));
    }

    let sql_err = |source| SynthError::Sql {
        path: db_path.to_owned(),
        source,
    };
    let mut stats = ImportStats {
        files: 1,
        ..ImportStats::default()
    };
    let mut tx = pool.begin().await.map_err(sql_err)?;
    let channel_name = export
        .channel
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| export.channel.id.to_string());
    stats.channels_added +=
        sqlx::query("INSERT OR IGNORE INTO channels (id, name, topic) VALUES (?1, ?2, ?3)")
            .bind(export.channel.id)
            .bind(&channel_name)
            .bind(&export.channel.topic)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?
            .rows_affected();
    for (m, created, edited) in &messages {
        if !is_content_message(m.kind.as_ref()) {
            stats.system_messages_skipped += 1;
            continue;
        }
        stats.users_added += insert_user(&mut tx, &m.author).await.map_err(sql_err)?;
        let content = m.content.as_deref().unwrap_or("");
        let added = sqlx::query(
            "INSERT OR IGNORE INTO messages \
             (id, channel_id, author_id, content, created_at, edited_at, reply_to) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(m.id)
        .bind(export.channel.id)
        .bind(m.author.id)
        .bind(content)
        .bind(created)
        .bind(edited)
        .bind(m.reference.as_ref().and_then(|r| r.message_id))
        .execute(&mut *tx)
        .await
        .map_err(sql_err)?
        .rows_affected();
        if added == 0 {
            stats.messages_already_present += 1;
            continue;
        }
        stats.messages_added += 1;
        sqlx::query("INSERT INTO messages_fts (rowid, content) VALUES (?1, ?2)")
            .bind(m.id)
            .bind(content)
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?;
        for u in m.mentions.iter().flatten() {
            stats.users_added += insert_user(&mut tx, u).await.map_err(sql_err)?;
            stats.mentions_added +=
                sqlx::query("INSERT OR IGNORE INTO mentions (message_id, user_id) VALUES (?1, ?2)")
                    .bind(m.id)
                    .bind(u.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(sql_err)?
                    .rows_affected();
        }
        for r in m.reactions.iter().flatten() {
            let Some(emoji) = r.emoji.key() else {
                continue;
            };
            stats.reactions_added += sqlx::query(
                "INSERT OR IGNORE INTO reactions (message_id, emoji, count) VALUES (?1, ?2, ?3)",
            )
            .bind(m.id)
            .bind(emoji)
            .bind(r.count.unwrap_or(1).max(0))
            .execute(&mut *tx)
            .await
            .map_err(sql_err)?
            .rows_affected();
        }
    }
    tx.commit().await.map_err(sql_err)?;
    Ok(stats)
}

async fn insert_user(tx: &mut Transaction<'_, Sqlite>, a: &Author) -> Result<u64, sqlx::Error> {
    let name = a
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| a.id.to_string());
    let display = a
        .nickname
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| name.clone());
    Ok(sqlx::query(
        "INSERT OR IGNORE INTO users (id, name, display_name, is_bot) VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(a.id)
    .bind(&name)
    .bind(&display)
    .bind(i64::from(a.is_bot.unwrap_or(false)))
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_any_offset() {
        assert_eq!(
            unix_seconds("2024-06-30T00:00:00+00:00"),
            Some(1_719_705_600)
        );
        assert_eq!(
            unix_seconds("2024-06-30T02:00:00.123+02:00"),
            Some(1_719_705_600)
        );
        assert_eq!(
            unix_seconds("2024-06-29T19:00:00.1234567-05:00"),
            Some(1_719_705_600)
        );
        assert_eq!(unix_seconds("2024-06-30T00:00:00Z"), Some(1_719_705_600));
        assert_eq!(unix_seconds("yesterday"), None);
    }

    #[test]
    fn message_types() {
        use serde_json::json;
        assert!(is_content_message(None));
        assert!(is_content_message(Some(&json!("Reply"))));
        assert!(is_content_message(Some(&json!(0))));
        assert!(!is_content_message(Some(&json!("GuildMemberJoin"))));
        assert!(!is_content_message(Some(&json!(7))));
    }
}
