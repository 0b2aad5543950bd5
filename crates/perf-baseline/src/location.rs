//! Where the run history lives: an SQLite file (the embedded default) or a PostgreSQL
//! database shared by a team's CI runners and shard machines.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::BaselineError;

/// Where a [`crate::History`] is stored.
///
/// `Display` and `Debug` never show a password, a user name or a credential-like query
/// parameter: a PostgreSQL URL is shown as `postgres://[redacted]@host:port/database`
/// (`?sslpassword=[redacted]`, `?user=[redacted]`), so a location can go into any message,
/// log or report.
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

/// Query parameters that name a credential file rather than hold a secret: allowed in a
/// configuration or on a command line, never shown.
const CREDENTIAL_FILE_PARAMS: [&str; 3] = ["passfile", "sslkey", "sslcert"];

/// The connection keywords of libpq (`host=db dbname=perf password=...`): a value made of
/// them is a key-value connection string, not a path.
const LIBPQ_KEYWORDS: [&str; 30] = [
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "requiressl",
    "gssencmode",
    "krbsrvname",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// Whether the query parameter `key` holds a secret by its value (`password`,
/// `sslpassword`, a token...): refused outside the environment, redacted everywhere.
fn is_secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    perf_core::is_secret_name(&k) && !CREDENTIAL_FILE_PARAMS.contains(&k.as_str())
}

/// Whether the query parameter `key` is shown as [`perf_core::REDACTED`]: the secrets, the
/// user name and the credential files.
fn is_hidden_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    is_secret_param(&k) || k == "user" || CREDENTIAL_FILE_PARAMS.contains(&k.as_str())
}

/// Whether `value` reads as a libpq key-value connection string: a word that is a libpq
/// keyword followed by `=` (spaces around it allowed, as libpq allows them).
fn is_keyword_value(value: &str) -> bool {
    let words: Vec<&str> = value.split_whitespace().collect();
    words.iter().enumerate().any(|(i, w)| {
        let (name, has_eq) = match w.split_once('=') {
            Some((name, _)) => (name, true),
            None => (*w, words.get(i + 1).is_some_and(|n| n.starts_with('='))),
        };
        has_eq && LIBPQ_KEYWORDS.contains(&name)
    })
}

/// The URL scheme `value` starts with (`postgres` of `postgres:/db`), if any: two or more
/// characters, so a Windows drive (`C:\h.db`) is a path.
fn scheme_of(value: &str) -> Option<&str> {
    let (scheme, _) = value.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (scheme.len() >= 2
        && first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
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
                        "{url} carries a password (in its user part or a parameter such as `password` or `sslpassword`), \
                         which must not be written in a configuration or on a command line: \
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
        if value.trim().is_empty() {
            return Err(BaselineError::config(
                key,
                "is empty: give a file path, sqlite://PATH or postgres://host/database",
            ));
        }
        // What is neither a URL nor a path must not become an SQLite file named after it
        // (a connection string would leave its password in the file name and every report).
        // The value is never echoed: it may hold a password.
        if is_keyword_value(value) {
            return Err(BaselineError::config(
                key,
                "is a libpq key-value connection string (host=... dbname=...), which this harness does not read \
                 (the value is not shown: it may hold a password): write it as a URL, postgres://user@host:5432/database, \
                 with the password in PGPASSWORD or ~/.pgpass, or the whole URL in the variable `history_url_env` names",
            ));
        }
        if let Some(scheme) = scheme_of(value) {
            let scheme = scheme.to_ascii_lowercase();
            let hint = if scheme == "postgres" || scheme == "postgresql" {
                format!("a PostgreSQL URL starts with `{scheme}://`")
            } else {
                format!("`{scheme}:` is not a history this harness can use")
            };
            return Err(BaselineError::config(
                key,
                format!(
                    "{hint}: give a file path (./NAME for a file whose name has a colon), sqlite://PATH or postgres://host/database"
                ),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(BaselineError::config(
                key,
                "holds a control character (a line break, a tab...): give a file path, sqlite://PATH or postgres://host/database",
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
    /// Whether the URL carries a password: in its user part, or as a parameter that holds a
    /// secret (`password`, `sslpassword`, a token...; [`perf_core::is_secret_name`]).
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
                .filter(|(k, _)| is_hidden_param(k))
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
        // Each parameter as written, its value replaced when hidden; built by hand so the
        // marker is not percent-encoded.
        let query = self.url.query().map(|q| {
            q.split('&')
                .map(|pair| {
                    let name = url::form_urlencoded::parse(pair.as_bytes())
                        .next()
                        .map(|(k, _)| k.into_owned())
                        .unwrap_or_default();
                    match pair.split_once('=') {
                        Some((k, _)) if is_hidden_param(&name) => {
                            format!("{k}={}", perf_core::REDACTED)
                        }
                        _ => pair.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        shown.set_query(None);
        shown.set_fragment(None);
        let mut text = shown.to_string();
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            text.push('?');
            text.push_str(&q);
        }
        match (had_user, text.find("://")) {
            (true, Some(i)) => write!(
                f,
                "{}{}@{}",
                &text[..i + 3],
                perf_core::REDACTED,
                &text[i + 3..]
            ),
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
            "postgres://[redacted]@db.example:5433/perf_history",
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

    /// Issue #28, item 5: a libpq key-value string was taken for an SQLite file name.
    #[test]
    fn a_libpq_key_value_string_is_refused_without_being_echoed() {
        for value in [
            "host=db.example password=s3cret-pw dbname=perf",
            "dbname=perf",
            "  host = db.example user=perf",
            "port=5432 sslmode=require",
        ] {
            for key in ["--history-url", "history_url"] {
                let e = HistoryLocation::parse(value, key).unwrap_err().to_string();
                assert!(e.contains(key) && e.contains("key-value"), "{value}: {e}");
                assert!(e.contains("postgres://"), "{e}");
                assert!(!e.contains("s3cret") && !e.contains("db.example"), "{e}");
            }
        }
        let var = "PERF_BASELINE_LOCATION_TEST_KV";
        std::env::set_var(var, "host=db.example password=s3cret-pw dbname=perf");
        let e = HistoryLocation::from_env(var).unwrap_err().to_string();
        std::env::remove_var(var);
        assert!(e.contains(var) && !e.contains("s3cret"), "{e}");
    }

    /// Issue #28, item 5: `?sslpassword=` was shown, and the user name with it.
    #[test]
    fn credential_parameters_are_refused_in_values_and_redacted_from_the_environment() {
        for param in ["sslpassword", "password", "auth_token", "client_secret"] {
            let value = format!("postgres://db.example/perf?{param}=s3cret-pw");
            let e = HistoryLocation::parse(&value, "--history-url")
                .unwrap_err()
                .to_string();
            assert!(!e.contains("s3cret") && e.contains("PGPASSWORD"), "{e}");
        }
        let var = "PERF_BASELINE_LOCATION_TEST_PARAMS";
        std::env::set_var(
            var,
            "postgresql://perf:s3cret-pw@db.example/perf?sslmode=require&sslpassword=s3cret-ssl\
             &user=perf-user&passfile=/home/ci/.pgpass-perf&sslkey=/keys/perf-client.key&application_name=ci",
        );
        let l = HistoryLocation::from_env(var).unwrap();
        std::env::remove_var(var);
        let shown = l.to_string();
        assert_eq!(
            shown,
            "postgresql://[redacted]@db.example/perf?sslmode=require&sslpassword=[redacted]\
             &user=[redacted]&passfile=[redacted]&sslkey=[redacted]&application_name=ci"
        );
        let HistoryLocation::Postgres(u) = &l else {
            panic!("{l:?}")
        };
        assert!(u.passwords().iter().any(|p| p == "s3cret-ssl"));
        // Credential files are paths, not secrets: allowed in a value, still not shown.
        let l = HistoryLocation::parse(
            "postgres://db.example/perf?sslkey=/keys/perf-client.key&passfile=/p/.pgpass",
            "history_url",
        )
        .unwrap();
        assert!(!l.to_string().contains("perf-client"), "{l}");
        assert!(!l.to_string().contains(".pgpass"), "{l}");
    }

    #[test]
    fn unusable_values_name_the_key() {
        for value in ["mysql://db/x", "", "sqlite://"] {
            let e = HistoryLocation::parse(value, "history_url")
                .unwrap_err()
                .to_string();
            assert!(e.contains("history_url"), "{value}: {e}");
        }
        // A URL scheme without `//`, and a control character, are neither URL nor path.
        for value in [
            "postgres:db.example/perf",
            "postgresql:/perf",
            "mysql:x",
            "h\nistory.db",
        ] {
            let e = HistoryLocation::parse(value, "--history-url")
                .unwrap_err()
                .to_string();
            assert!(e.contains("--history-url"), "{value}: {e}");
        }
        // A Windows drive and names with `=` but no libpq keyword are paths.
        for value in ["C:\\perf\\h.db", "runs=1.db", "a b.db"] {
            assert!(HistoryLocation::parse(value, "k")
                .unwrap()
                .sqlite_path()
                .is_some());
        }
        let e = HistoryLocation::parse("postgres://perf:pw@[bad/x", "history_url")
            .unwrap_err()
            .to_string();
        assert!(e.contains("history_url") && !e.contains("pw@"), "{e}");
    }
}
