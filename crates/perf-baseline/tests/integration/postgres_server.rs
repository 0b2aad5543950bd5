//! Tests against a real PostgreSQL server, built with the `postgres-tests` feature only.
//! `.ci/run` starts a throwaway cluster (`.ci/postgres start DIR`) and sets
//! `PERF_TEST_POSTGRES_URL` (a URL without password, of a role that may create databases)
//! and `PGPASSWORD`. With the feature on and no server, every test here fails: they never
//! pass in silence.

use std::sync::atomic::{AtomicU32, Ordering};

use perf_baseline::{History, HistoryLocation};
use sqlx::ConnectOptions;

use crate::history::Backend;

/// The variable naming the server.
const URL_VAR: &str = "PERF_TEST_POSTGRES_URL";

/// The server's URL; panics, failing the test, when it is not given.
fn base_url() -> String {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => panic!(
            "{URL_VAR} is not set, but the postgres-tests feature is on: start a server with \
             `eval \"$(.ci/postgres start /tmp/perf-pg)\"` (it sets {URL_VAR} and PGPASSWORD), \
             or build without the feature"
        ),
    }
}

fn with_database(base: &str, database: &str) -> String {
    let mut url = url::Url::parse(base).unwrap();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

async fn admin() -> sqlx::PgConnection {
    let options: sqlx::postgres::PgConnectOptions = base_url().parse().unwrap();
    options.connect().await.unwrap_or_else(|e| {
        panic!("cannot reach the test server at {URL_VAR} (is it running?): {e}")
    })
}

/// A new, empty database on the test server, for one test.
pub(crate) async fn fresh_database() -> HistoryLocation {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!(
        "perf_t_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = admin().await;
    // The name is made here from digits and letters, never from input.
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    HistoryLocation::parse(&with_database(&base_url(), &name), "test").unwrap()
}

/// Runs `sql` in the database of `location` behind the harness's back.
pub(crate) async fn exec(location: &HistoryLocation, sql: &str) {
    let options: sqlx::postgres::PgConnectOptions = raw_url(location).parse().unwrap();
    let mut conn = options.connect().await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
}

mod same_suite {
    crate::history::history_tests!(crate::history::Backend::Postgres);
}

#[tokio::test]
async fn the_server_is_there_when_the_feature_is_on() {
    // Fails loudly (rather than every test being skipped) when .ci/run forgot the server.
    let mut conn = admin().await;
    let v: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!v.is_empty());
    let _ = Backend::Sqlite;
}

/// A password written into the URL is refused without being echoed; the same URL from an
/// environment variable is used (a wrong password there fails even though PGPASSWORD is
/// right, so it is the URL's), and no message or Debug output shows it.
#[tokio::test]
async fn a_password_in_the_url_is_refused_and_one_from_the_environment_is_used_unseen() {
    let base = url::Url::parse(&fresh_database_url().await).unwrap();
    let password = std::env::var("PGPASSWORD").expect("PGPASSWORD is set by .ci/postgres");
    let with = |pw: &str| {
        let mut u = base.clone();
        u.set_password(Some(pw)).unwrap();
        u.to_string()
    };
    let err = HistoryLocation::parse(&with(&password), "--history-url")
        .unwrap_err()
        .to_string();
    assert!(!err.contains(&password), "{err}");
    assert!(
        err.contains("--history-url") && err.contains("PGPASSWORD"),
        "{err}"
    );

    let var = "PERF_TEST_HISTORY_URL_WITH_PASSWORD";
    std::env::set_var(var, with("wrong-password-x9"));
    let location = HistoryLocation::from_env(var).unwrap();
    let err = History::connect(&location).await.unwrap_err().to_string();
    assert!(!err.contains("wrong-password-x9"), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        err.contains("cannot connect to 127.0.0.1") && err.contains("PGPASSWORD"),
        "{err}"
    );

    std::env::set_var(var, with(&password));
    let location = HistoryLocation::from_env(var).unwrap();
    std::env::remove_var(var);
    let h = History::connect(&location).await.unwrap();
    h.record(&super::run(1, 20, 1.0)).await.unwrap();
    assert_eq!(h.list_runs(5).await.unwrap().len(), 1);
    for shown in [
        format!("{h:?}"),
        h.location().to_string(),
        format!("{location:?}"),
    ] {
        assert!(!shown.contains(&password), "{shown}");
        assert!(
            shown.contains("postgres://[redacted]@127.0.0.1:"),
            "{shown}"
        );
    }
    h.close().await;
}

async fn fresh_database_url() -> String {
    raw_url(&fresh_database().await)
}

/// The test server's URL for the database of `location` (which is shown without user).
fn raw_url(location: &HistoryLocation) -> String {
    let HistoryLocation::Postgres(_) = location else {
        panic!("not a PostgreSQL history: {location}")
    };
    let shown = url::Url::parse(&location.to_string()).unwrap();
    with_database(&base_url(), shown.path().trim_start_matches('/'))
}

/// A database that does not exist: the server's own reason, the host, what to check.
#[tokio::test]
async fn a_missing_database_is_named_with_what_to_do() {
    let location = HistoryLocation::parse(
        &with_database(&base_url(), "no_such_history_db"),
        "history_url",
    )
    .unwrap();
    let err = History::connect(&location).await.unwrap_err().to_string();
    assert!(err.contains("no_such_history_db"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("the database exists"), "{err}");
}
