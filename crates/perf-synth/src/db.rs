use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::{generate_database, FixtureConfig, SynthError};

/// Version of the message-database schema, stored in `meta.schema_version`.
pub const SCHEMA_VERSION: u32 = 1;

/// The message-database schema (documented in `docs/database-schema.md`).
pub const SCHEMA_SQL: &str = r#"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channels (
    id    INTEGER PRIMARY KEY,
    name  TEXT NOT NULL,
    topic TEXT
);
CREATE TABLE IF NOT EXISTS users (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    is_bot       INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    author_id  INTEGER NOT NULL REFERENCES users(id),
    content    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    reply_to   INTEGER
);
CREATE INDEX IF NOT EXISTS messages_channel_time ON messages(channel_id, created_at);
CREATE INDEX IF NOT EXISTS messages_author ON messages(author_id);
CREATE INDEX IF NOT EXISTS messages_time ON messages(created_at);
CREATE TABLE IF NOT EXISTS mentions (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    user_id    INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (message_id, user_id)
);
CREATE TABLE IF NOT EXISTS reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id),
    emoji      TEXT NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji)
);
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    content, content='messages', content_rowid='id', tokenize='unicode61'
);
"#;

/// Tables and columns a message database must have.
const REQUIRED: &[(&str, &[&str])] = &[
    ("channels", &["id", "name"]),
    ("users", &["id", "name", "display_name"]),
    (
        "messages",
        &[
            "id",
            "channel_id",
            "author_id",
            "content",
            "created_at",
            "reply_to",
        ],
    ),
    ("reactions", &["message_id", "emoji", "count"]),
    ("messages_fts", &["content"]),
];

/// Opens an existing message database read-write and checks its schema.
pub async fn open_database(path: &Path) -> Result<SqlitePool, SynthError> {
    if let Some(what) = crate::not_a_regular_file(path) {
        return Err(SynthError::NotADatabaseFile {
            path: path.to_owned(),
            what,
        });
    }
    if !path.is_file() {
        return Err(SynthError::Schema {
            path: path.to_owned(),
            reason: "the file does not exist".to_owned(),
        });
    }
    let pool = connect(path, false).await?;
    validate_schema(&pool, path).await?;
    Ok(pool)
}

/// Opens the database at `path`, generating it from `fixture` first when it is missing
/// (its directory is created). Returns the pool and whether it was generated.
pub async fn open_or_generate(
    path: &Path,
    fixture: &FixtureConfig,
) -> Result<(SqlitePool, bool), SynthError> {
    let generated = if path.exists() {
        false
    } else {
        generate_database(path, fixture).await?;
        true
    };
    Ok((open_database(path).await?, generated))
}

/// Creates the schema in a new database and records `schema_version` and `meta` in its
/// `meta` table, inside `tx`.
pub(crate) async fn create_schema(
    tx: &mut sqlx::SqliteConnection,
    meta: &[(&str, String)],
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(SCHEMA_SQL).execute(&mut *tx).await?;
    let version = ("schema_version", SCHEMA_VERSION.to_string());
    for (k, v) in std::iter::once(&version).chain(meta) {
        sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")
            .bind(k)
            .bind(v)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

pub(crate) async fn connect(path: &Path, create: bool) -> Result<SqlitePool, SynthError> {
    let open_err = |source| SynthError::Open {
        path: path.to_owned(),
        source,
    };
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .map_err(open_err)?
        .filename(path)
        .create_if_missing(create)
        .foreign_keys(false);
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
        .map_err(open_err)
}

/// Checks that the database behind `pool` has the message schema; the error names the
/// first table or column that is missing.
pub async fn validate_schema(pool: &SqlitePool, path: &Path) -> Result<(), SynthError> {
    let schema_err = |reason: String| SynthError::Schema {
        path: path.to_owned(),
        reason,
    };
    for (table, columns) in REQUIRED {
        let rows = sqlx::query("SELECT name FROM pragma_table_info(?1)")
            .bind(table)
            .fetch_all(pool)
            .await
            .map_err(|e| {
                // "file is not a database" and friends surface here.
                schema_err(format!("it cannot be read as SQLite ({e})"))
            })?;
        if rows.is_empty() {
            return Err(schema_err(format!("table `{table}` is missing")));
        }
        let have: Vec<String> = rows.iter().map(|r| r.get::<String, _>(0)).collect();
        if let Some(missing) = columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(schema_err(format!(
                "table `{table}` has no column `{missing}`"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn non_database_and_wrong_schema_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.db");
        std::fs::write(
            &junk,
            b"this is not sqlite at all, just text padding it out",
        )
        .unwrap();
        let err = open_database(&junk).await.unwrap_err().to_string();
        assert!(err.contains("junk.db"), "{err}");
        assert!(err.contains("not a message database"), "{err}");

        let other = dir.path().join("other.db");
        let pool = connect(&other, true).await.unwrap();
        sqlx::query("CREATE TABLE channels (id INTEGER, title TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let err = open_database(&other).await.unwrap_err().to_string();
        assert!(err.contains("no column `name`"), "{err}");

        let err = open_database(&dir.path().join("absent.db"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
