//! Where the run history lives: an SQLite file (the embedded default) or a PostgreSQL
//! database shared by a team's CI runners and shard machines.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::BaselineError;

/// Where a [`crate::History`] is stored.
///
/// `Display` and `Debug` never show a password or a user name: a PostgreSQL URL is shown
/// as `postgres://***@host:port/database`, so a location can go into any message, log or
/// report.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistoryLocation {
    /// An SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresUrl),
}

/// A `postgres://` or `postgresql://` URL. It may hold a password only when it came from
/// the environment ([`HistoryLocation::from_env`]); it is never shown with one.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    url: url::Url,
}

/// Whether a PostgreSQL URL's query parameter `name` holds a secret: `password`,
/// `sslpassword`, and any name containing `pass`, `secret`, `token` or `key`
/// (`sslkey` names a file, and is hidden all the same: a path can say whose key it is).
fn is_secret_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The keywords of a libpq key-value connection string (`host=... dbname=...`).
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslpassword",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "connect_timeout",
    "application_name",
    "options",
    "service",
    "target_session_attrs",
];

/// Whether `value` reads as a libpq key-value string: its first word is `KEYWORD=` for a
/// libpq keyword. (A file name such as `host=x.db` is one too: say `sqlite://host=x.db`.)
fn looks_like_libpq(value: &str) -> bool {
    value
        .split_whitespace()
        .next()
        .and_then(|w| w.split_once('='))
        .is_some_and(|(k, _)| LIBPQ_KEYWORDS.contains(&k.trim().to_ascii_lowercase().as_str()))
}

impl HistoryLocation {
    /// Reads a location given in a configuration file or on the command line (`key` names
    /// it in errors): `sqlite://PATH`, `sqlite:PATH`, a plain path, or
    /// `postgres://[user@]host[:port]/database[?sslmode=...]`. A password in the value is
    /// refused, so it cannot end up in a file, a shell history or a process list: give it
    /// in `PGPASSWORD` (or `~/.pgpass`), or put the whole URL in an environment variable
    /// named by `history_url_env`.
    pub fn parse(value: &str, key: &str) -> Result<Self, BaselineError> {
        let location = Self::parse_any(value, key)?;
        if let HistoryLocation::Postgres(url) = &location {
            if url.has_password() {
                return Err(BaselineError::config(
                    key,
                    format!(
                        "{url} carries a password, which must not be written in a configuration or on a command line: \
                         remove it and set PGPASSWORD (or ~/.pgpass), or put the whole URL in an environment variable \
                         and name it with `history_url_env`"
                    ),
                ));
            }
        }
        Ok(location)
    }

    /// Reads a location from the environment variable `var` (named by `history_url_env`).
    /// Here a password is allowed: the variable is where secrets belong.
    pub fn from_env(var: &str) -> Result<Self, BaselineError> {
        let key = format!("history_url_env ({var})");
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Self::parse_any(v.trim(), &key),
            Ok(_) => Err(BaselineError::config(
                key,
                "the environment variable is empty: set it to the history URL (postgres://user:password@host/database)",
            )),
            Err(std::env::VarError::NotPresent) => Err(BaselineError::config(
                key,
                "the environment variable is not set: set it to the history URL (postgres://user:password@host/database) or remove `history_url_env`",
            )),
            Err(std::env::VarError::NotUnicode(_)) => Err(BaselineError::config(
                key,
                "the environment variable is not valid UTF-8",
            )),
        }
    }

    fn parse_any(value: &str, key: &str) -> Result<Self, BaselineError> {
        let lower = value.get(..13).unwrap_or(value).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let url = url::Url::parse(value).map_err(|e| {
                // The value may hold a password: name the problem, never echo the value.
                BaselineError::config(
                    key,
                    format!("not a valid PostgreSQL URL ({e}): write postgres://user@host:5432/database"),
                )
            })?;
            return Ok(HistoryLocation::Postgres(PostgresUrl { url }));
        }
        if lower.starts_with("sqlite:") {
            let rest = &value["sqlite:".len()..];
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(BaselineError::config(
                    key,
                    "`sqlite://` needs a file path, e.g. sqlite://data/history.db",
                ));
            }
            return Ok(HistoryLocation::Sqlite(PathBuf::from(path)));
        }
        if looks_like_libpq(value) {
            // It may hold a password: name the problem, never echo the value.
            return Err(BaselineError::config(
                key,
                "is a libpq key-value string (`host=... dbname=...`), not a URL or a file path: \
                 write it as postgres://user@host:5432/database (the password in PGPASSWORD, \
                 ~/.pgpass, or the whole URL in the variable `history_url_env` names); \
                 for an SQLite file whose name starts so, write sqlite://PATH",
            ));
        }
        if let Some((scheme, _)) = value.split_once("://") {
            return Err(BaselineError::config(
                key,
                format!(
                    "`{scheme}://` is not a history this harness can use: give a file path, sqlite://PATH or postgres://host/database"
                ),
            ));
        }
        if value.trim().is_empty() {
            return Err(BaselineError::config(
                key,
                "is empty: give a file path, sqlite://PATH or postgres://host/database",
            ));
        }
        Ok(HistoryLocation::Sqlite(PathBuf::from(value)))
    }

    /// The SQLite file, when the history is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            HistoryLocation::Sqlite(p) => Some(p),
            HistoryLocation::Postgres(_) => None,
        }
    }

    /// The location as it may be shown: a file path, or a PostgreSQL URL without user
    /// name or password.
    pub fn redacted(&self) -> String {
        self.to_string()
    }
}

impl PostgresUrl {
    /// Whether the URL carries a password (in its user part or as a secret parameter such
    /// as `password` or `sslpassword`).
    pub fn has_password(&self) -> bool {
        self.url.password().is_some() || self.url.query_pairs().any(|(k, _)| is_secret_param(&k))
    }

    /// The host (or socket directory) the URL names, when it names one.
    pub fn host(&self) -> Option<String> {
        self.url
            .host_str()
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .or_else(|| {
                self.url
                    .query_pairs()
                    .find(|(k, _)| k == "host")
                    .map(|(_, v)| v.into_owned())
            })
    }

    /// The passwords the URL carries (as written and percent-decoded), to scrub from
    /// driver messages.
    pub(crate) fn passwords(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        if let Some(pw) = self.url.password() {
            out.push(pw.to_owned());
            let decoded: String = url::form_urlencoded::parse(format!("x={pw}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .collect();
            out.push(decoded);
        }
        out.extend(
            self.url
                .query_pairs()
                .filter(|(k, _)| is_secret_param(k))
                .map(|(_, v)| v.into_owned()),
        );
        out
    }

    /// The full URL, password included, for the driver only.
    pub(crate) fn secret_str(&self) -> &str {
        self.url.as_str()
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = self.url.clone();
        let had_user = !shown.username().is_empty() || shown.password().is_some();
        // Setting an empty user name also drops the password; neither can fail on a URL
        // with a host, and without a host there is no user part to hide.
        let _ = shown.set_password(None);
        let _ = shown.set_username("");
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        if pairs.is_empty() {
            shown.set_query(None);
        } else {
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let text = shown.to_string();
        match (had_user, text.find("://")) {
            (true, Some(i)) => write!(f, "{}***@{}", &text[..i + 3], &text[i + 3..]),
            _ => f.write_str(&text),
        }
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

impl fmt::Display for HistoryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryLocation::Sqlite(p) => write!(f, "{}", p.display()),
            HistoryLocation::Postgres(u) => u.fmt(f),
        }
    }
}

impl fmt::Debug for HistoryLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryLocation::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            HistoryLocation::Postgres(u) => f.debug_tuple("Postgres").field(u).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &str, shown: &str) {
        let l = HistoryLocation::parse(value, "history_url").unwrap();
        assert_eq!(l.to_string(), shown, "{value}");
        assert!(format!("{l:?}").contains(shown), "{l:?}");
    }

    #[test]
    fn paths_and_urls_parse_and_show_without_user() {
        check("data/history.db", "data/history.db");
        check("sqlite://data/history.db", "data/history.db");
        check("sqlite:///tmp/h.db", "/tmp/h.db");
        check("sqlite:h.db", "h.db");
        check(
            "postgres://perf@db.example:5433/perf_history",
            "postgres://***@db.example:5433/perf_history",
        );
        check(
            "postgresql://db.example/perf?sslmode=require",
            "postgresql://db.example/perf?sslmode=require",
        );
        let l = HistoryLocation::parse("postgres://perf@db.example/h", "k").unwrap();
        let HistoryLocation::Postgres(u) = &l else {
            panic!("{l:?}")
        };
        assert_eq!(u.host().as_deref(), Some("db.example"));
        assert!(l.sqlite_path().is_none());
    }

    #[test]
    fn a_password_in_the_value_is_refused_without_being_echoed() {
        for value in [
            "postgres://perf:s3cret-pw@db.example/perf",
            "postgres://db.example/perf?user=perf&password=s3cret-pw",
            "postgresql://perf:s3cret-pw@%2Frun%2Fpostgresql/perf",
        ] {
            let e = HistoryLocation::parse(value, "--history-url")
                .unwrap_err()
                .to_string();
            assert!(!e.contains("s3cret"), "{e}");
            assert!(e.contains("--history-url"), "{e}");
            assert!(
                e.contains("PGPASSWORD") && e.contains("history_url_env"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_password_from_the_environment_is_accepted_and_never_shown() {
        let var = "PERF_BASELINE_LOCATION_TEST_URL";
        std::env::set_var(
            var,
            "postgres://perf:s3cret-pw@db.example:5432/perf?password=x2",
        );
        let l = HistoryLocation::from_env(var).unwrap();
        std::env::remove_var(var);
        let HistoryLocation::Postgres(u) = &l else {
            panic!("{l:?}")
        };
        assert!(u.has_password());
        assert!(u.secret_str().contains("s3cret-pw"));
        for shown in [l.to_string(), format!("{l:?}"), l.redacted()] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("x2"),
                "{shown}"
            );
            assert!(!shown.contains("perf:"), "{shown}");
            assert!(shown.contains("db.example:5432/perf"), "{shown}");
        }
        let e = HistoryLocation::from_env(var).unwrap_err().to_string();
        assert!(e.contains(var) && e.contains("not set"), "{e}");
    }

    #[test]
    fn unusable_values_name_the_key() {
        for value in ["mysql://db/x", "", "sqlite://"] {
            let e = HistoryLocation::parse(value, "history_url")
                .unwrap_err()
                .to_string();
            assert!(e.contains("history_url"), "{value}: {e}");
        }
        let e = HistoryLocation::parse("postgres://perf:pw@[bad/x", "history_url")
            .unwrap_err()
            .to_string();
        assert!(e.contains("history_url") && !e.contains("pw@"), "{e}");
    }
}
