//! The run history, the same tests on a real SQLite file and (with the `postgres-tests`
//! feature, which `.ci/run` turns on) on a real PostgreSQL server: `history_tests!`
//! instantiates every test for a backend.

use perf_baseline::{BaselineError, History, HistoryLocation, TrendOptions};

use super::run;

fn at(
    mut r: perf_core::record::RunResult,
    i: usize,
    factor_note: &str,
) -> perf_core::record::RunResult {
    r.run_id = format!("run-{i:02}{factor_note}");
    r.started_at = format!("2026-01-{:02}T10:00:00Z", i + 1);
    r
}

/// Where a test's history lives.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    #[cfg(feature = "postgres-tests")]
    Postgres,
}

/// A fresh, empty history of one backend: its own SQLite file or its own PostgreSQL
/// database.
pub(crate) struct Store {
    pub(crate) location: HistoryLocation,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub(crate) async fn fresh(self) -> Store {
        match self {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                Store {
                    location: HistoryLocation::Sqlite(dir.path().join("data").join("history.db")),
                    _dir: Some(dir),
                }
            }
            #[cfg(feature = "postgres-tests")]
            Backend::Postgres => Store {
                location: super::postgres_server::fresh_database().await,
                _dir: None,
            },
        }
    }
}

impl Store {
    pub(crate) async fn open(&self) -> History {
        History::connect(&self.location).await.unwrap()
    }

    /// Runs `sql` on the database behind the harness's back.
    pub(crate) async fn exec(&self, sql: &str) {
        use sqlx::ConnectOptions;
        match &self.location {
            HistoryLocation::Sqlite(path) => {
                let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .connect()
                    .await
                    .unwrap();
                sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
            }
            #[cfg(feature = "postgres-tests")]
            other => super::postgres_server::exec(other, sql).await,
            #[cfg(not(feature = "postgres-tests"))]
            other => panic!("this build has no PostgreSQL tests: {other}"),
        }
    }
}

/// Every history test, for one backend.
macro_rules! history_tests {
    ($backend:expr) => {
        #[tokio::test]
        async fn migrations_apply_on_a_fresh_database_and_reopen_cleanly() {
            crate::history::migrations_apply_on_a_fresh_database_and_reopen_cleanly($backend).await
        }
        #[tokio::test]
        async fn a_newer_schema_is_refused_by_name() {
            crate::history::a_newer_schema_is_refused_by_name($backend).await
        }
        #[tokio::test]
        async fn records_round_trip_newest_first() {
            crate::history::records_round_trip_newest_first($backend).await
        }
        #[tokio::test]
        async fn trends_find_a_lasting_slowdown_and_not_noise() {
            crate::history::trends_find_a_lasting_slowdown_and_not_noise($backend).await
        }
        #[tokio::test]
        async fn streaming_metrics_are_recorded_and_trended_only_when_measured() {
            crate::history::streaming_metrics_are_recorded_and_trended_only_when_measured($backend)
                .await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_machines_record_at_once_and_a_third_reads_the_trend() {
            crate::history::two_machines_record_at_once_and_a_third_reads_the_trend($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn openers_of_a_fresh_history_at_the_same_moment_migrate_it_once() {
            crate::history::openers_of_a_fresh_history_at_the_same_moment_migrate_it_once($backend)
                .await
        }
        #[tokio::test]
        async fn runs_of_two_bots_stay_apart_and_old_runs_get_their_key() {
            crate::history::runs_of_two_bots_stay_apart_and_old_runs_get_their_key($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_run_id_taken_by_another_run_is_refused_not_overwritten() {
            crate::history::a_run_id_taken_by_another_run_is_refused_not_overwritten($backend).await
        }
    };
}
pub(crate) use history_tests;

mod sqlite {
    super::history_tests!(super::Backend::Sqlite);
}

pub(crate) async fn migrations_apply_on_a_fresh_database_and_reopen_cleanly(b: Backend) {
    let store = b.fresh().await;
    let h = store.open().await;
    if let Some(path) = store.location.sqlite_path() {
        assert!(path.is_file());
    }
    assert_eq!(h.schema_version().await.unwrap(), 2);
    assert!(h.list_runs(10).await.unwrap().is_empty());
    h.close().await;
    let h = store.open().await;
    assert_eq!(h.schema_version().await.unwrap(), 2);
    h.close().await;
}

pub(crate) async fn a_newer_schema_is_refused_by_name(b: Backend) {
    let store = b.fresh().await;
    store.open().await.close().await;
    store
        .exec("INSERT INTO schema_migrations VALUES (42, 'future', 'x')")
        .await;
    let err = History::connect(&store.location).await.unwrap_err();
    assert!(matches!(err, BaselineError::History { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&store.location.redacted()) && msg.contains("42"),
        "{msg}"
    );
}

/// Two bots recorded into one history, alternately: each one's listing and trend hold its
/// own runs only, so a slow bot never reads as a slowdown of a fast one; runs recorded
/// before runs were keyed get their key from the target they stored.
pub(crate) async fn runs_of_two_bots_stay_apart_and_old_runs_get_their_key(b: Backend) {
    let store = b.fresh().await;
    let h = store.open().await;
    for i in 0..12 {
        // The reference bot, fast and steady; the user's bot three times slower.
        let mut r = at(run(300 + i as u64, 120, 1.0), 2 * i, "-ref");
        r.target = perf_core::TargetInfo {
            name: "refbot".into(),
            version: Some(format!("0.{i}.0")),
            transport: perf_core::Transport::InProcess,
        };
        h.record(&r).await.unwrap();
        let mut r = at(run(400 + i as u64, 120, 3.0), 2 * i + 1, "-mine");
        r.target = perf_core::TargetInfo {
            name: "support bot".into(),
            version: None,
            transport: perf_core::Transport::Http,
        };
        h.record(&r).await.unwrap();
    }
    let all = h.list_runs(100).await.unwrap();
    assert_eq!(all.len(), 24);
    // Old rows, as a history written before keys were stored has them.
    store.exec("UPDATE runs SET target_key = ''").await;
    h.close().await;
    let h = store.open().await;
    let keys: std::collections::BTreeSet<String> = h
        .list_runs(100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.target_key)
        .collect();
    assert_eq!(
        keys.into_iter().collect::<Vec<_>>(),
        ["refbot (in_process)", "support bot (http)"]
    );

    let mine = h.for_target("support bot (http)");
    let runs = mine.list_runs(100).await.unwrap();
    assert_eq!(runs.len(), 12);
    assert!(runs.iter().all(|r| r.run_id.ends_with("-mine")));
    let opts = TrendOptions::default();
    for who in ["refbot (in_process)", "support bot (http)"] {
        let t = h
            .for_target(who)
            .trend("overall", "latency_median", 100, &opts)
            .await
            .unwrap();
        assert_eq!(t.points.len(), 12, "{who}");
        // Alternating 1× and 3× runs in one series would be a shift every run; each
        // bot's own series has none.
        assert_eq!(t.change_point, None, "{who}: {t:?}");
    }
    // The whole history, unfiltered, still lists both.
    assert_eq!(h.list_runs(100).await.unwrap().len(), 24);
    h.close().await;
}

pub(crate) async fn records_round_trip_newest_first(b: Backend) {
    let store = b.fresh().await;
    let h = store.open().await;
    for i in 0..5 {
        h.record(&at(run(i as u64, 80, 1.0), i, "")).await.unwrap();
    }
    // Recording the same run again replaces it.
    h.record(&at(run(9, 40, 1.0), 2, "")).await.unwrap();
    let runs = h.list_runs(3).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["run-04", "run-03", "run-02"]
    );
    assert_eq!(runs[2].queries, 40);
    assert_eq!(runs[0].queries, 80);
    assert_eq!(runs[0].success_rate, 1.0);
    assert!(runs[0].latency_p95_ms > runs[0].latency_p50_ms);
    assert!(runs[0].verdict.is_none());
    assert!(!runs[0].interrupted);
    assert_eq!(h.list_runs(100).await.unwrap().len(), 5);
    let series = h
        .series("agent:digest_generation", "count", 10)
        .await
        .unwrap();
    assert_eq!(series.len(), 5);
    assert_eq!(series[0].0, "run-00");
    assert_eq!(series[2].2, 10.0);
    assert_eq!(series[4].2, 20.0);
    h.close().await;
}

pub(crate) async fn trends_find_a_lasting_slowdown_and_not_noise(b: Backend) {
    let store = b.fresh().await;
    let h = store.open().await;
    for i in 0..16 {
        // 30% slower from the 11th run on.
        let factor = if i >= 10 { 1.3 } else { 1.0 };
        h.record(&at(run(100 + i as u64, 200, factor), i, ""))
            .await
            .unwrap();
    }
    let t = h
        .trend("overall", "latency_median", 50, &TrendOptions::default())
        .await
        .unwrap();
    assert_eq!(t.points.len(), 16);
    assert_eq!(t.change_point, Some(10), "{t:?}");
    assert!(t.slope_per_run > 0.0);
    let ok = h
        .trend("overall", "success_rate", 50, &TrendOptions::default())
        .await
        .unwrap();
    assert_eq!(ok.change_point, None);
    // Runs 10..16 are repeats of one build: their noise is small (2% run noise plus the
    // sampling error of a 200-query median).
    let noise = h.estimate_run_noise(6).await.unwrap().unwrap();
    assert!(noise > 0.0 && noise < 0.1, "noise {noise}");
    let all = h.trends(8, &TrendOptions::default()).await.unwrap();
    assert!(all.iter().any(|t| t.metric == "latency_p95"));
    assert!(all.iter().all(|t| t.points.len() == 8));
    h.close().await;
}

pub(crate) async fn streaming_metrics_are_recorded_and_trended_only_when_measured(b: Backend) {
    let store = b.fresh().await;
    let h = store.open().await;
    h.record(&at(run(1, 80, 1.0), 0, "")).await.unwrap();
    for i in 1..6 {
        let ttft = if i >= 3 { 300.0 } else { 200.0 };
        let r = super::streaming_run(200 + i as u64, 200, ttft);
        h.record(&at(r, i, "")).await.unwrap();
    }
    let ttft = h.series("overall", "ttft_median", 10).await.unwrap();
    assert_eq!(
        ttft.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
        ["run-01", "run-02", "run-03", "run-04", "run-05"],
        "the run that streamed nothing has no TTFT, not a 0"
    );
    assert!((ttft[0].2 - 200.0).abs() < 20.0, "{ttft:?}");
    assert!((ttft[4].2 - 300.0).abs() < 30.0, "{ttft:?}");
    for metric in [
        "ttft_mean",
        "ttft_p95",
        "ttft_p99",
        "itl_median",
        "itl_p95",
        "tpot_median",
        "tpot_p95",
        "output_tokens",
    ] {
        assert_eq!(
            h.series("overall", metric, 10).await.unwrap().len(),
            5,
            "{metric}"
        );
    }
    // 200 answers of 100 tokens over the simulated 10 s.
    let rate = h
        .series("overall", "output_tokens_per_s", 10)
        .await
        .unwrap();
    assert_eq!(rate.len(), 5);
    assert_eq!(rate[0].2, 2000.0);
    let per_agent = h
        .series("agent:digest_generation", "ttft_median", 10)
        .await
        .unwrap();
    assert_eq!(per_agent.len(), 5);
    let trends = h.trends(10, &TrendOptions::default()).await.unwrap();
    for metric in perf_baseline::STREAMING_TREND_METRICS {
        let t = trends
            .iter()
            .find(|t| t.metric == metric)
            .unwrap_or_else(|| panic!("no trend of {metric}"));
        assert_eq!(t.points.len(), 5, "{metric}");
    }
    h.close().await;

    // A history of runs that never streamed has no streaming trends.
    let store = b.fresh().await;
    let h = store.open().await;
    for i in 0..3 {
        h.record(&at(run(300 + i as u64, 80, 1.0), i, ""))
            .await
            .unwrap();
    }
    let trends = h.trends(10, &TrendOptions::default()).await.unwrap();
    assert!(trends
        .iter()
        .all(|t| !perf_baseline::STREAMING_TREND_METRICS.contains(&t.metric.as_str())));
    assert!(trends.iter().any(|t| t.metric == "latency_median"));
    h.close().await;
}

/// Two CI runners (two handles, two pools) record their runs at the same time, runs
/// interleaved in time; a third handle sees every run once, in start order, and finds the
/// slowdown that began on one of them.
pub(crate) async fn two_machines_record_at_once_and_a_third_reads_the_trend(b: Backend) {
    let store = b.fresh().await;
    let (a, c) = tokio::join!(store.open(), store.open());
    // Machine A records the even days, machine B the odd ones; from day 11 on the bot is
    // 30% slower, whichever machine measured it.
    let machine = |h: History, parity: usize| async move {
        for i in (0..16).filter(|i| i % 2 == parity) {
            let factor = if i >= 10 { 1.3 } else { 1.0 };
            h.record(&at(run(500 + i as u64, 200, factor), i, ""))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
        h.close().await;
    };
    tokio::join!(tokio::spawn(machine(a, 0)), tokio::spawn(machine(c, 1)))
        .0
        .unwrap();
    let reader = store.open().await;
    let runs = reader.list_runs(100).await.unwrap();
    assert_eq!(runs.len(), 16);
    let ids: Vec<String> = runs.iter().rev().map(|r| r.run_id.clone()).collect();
    let expected: Vec<String> = (0..16).map(|i| format!("run-{i:02}")).collect();
    assert_eq!(ids, expected);
    let t = reader
        .trend("overall", "latency_median", 50, &TrendOptions::default())
        .await
        .unwrap();
    assert_eq!(t.points.len(), 16);
    assert_eq!(t.change_point, Some(10), "{t:?}");
    let counts = reader.series("overall", "count", 50).await.unwrap();
    assert!(counts.iter().all(|p| p.2 == 200.0), "{counts:?}");
    reader.close().await;
}

/// Eight jobs open a history nobody has opened yet at the same moment: each succeeds and
/// the schema is created once.
pub(crate) async fn openers_of_a_fresh_history_at_the_same_moment_migrate_it_once(b: Backend) {
    let store = b.fresh().await;
    let location = store.location.clone();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let l = location.clone();
            tokio::spawn(async move { History::connect(&l).await })
        })
        .collect();
    let mut handles = Vec::new();
    for t in tasks {
        handles.push(t.await.unwrap().unwrap());
    }
    for h in handles {
        assert_eq!(h.schema_version().await.unwrap(), 2);
        h.close().await;
    }
    store
        .exec("INSERT INTO schema_migrations VALUES (3, 'check', 'x')")
        .await;
    // Exactly one row for each version: a second would have failed its primary key (and
    // the insert of version 3 shows the table is the one the harness reads).
    let err = History::connect(&store.location).await.unwrap_err();
    assert!(err.to_string().contains("schema version 3"), "{err}");
}

/// A run id is the key of a shared history: another run under the same id (two machines
/// that started in the same second with the same process id) is refused with a message,
/// and the run already recorded stays as it was.
pub(crate) async fn a_run_id_taken_by_another_run_is_refused_not_overwritten(b: Backend) {
    let store = b.fresh().await;
    let (h1, h2) = tokio::join!(store.open(), store.open());
    let first = at(run(700, 80, 1.0), 3, "");
    let mut other = at(run(701, 40, 1.0), 3, "");
    other.started_at = "2026-01-04T10:00:00.5Z".into();
    let (r1, r2) = tokio::join!(h1.record(&first), h2.record(&other));
    // One of them got the id first; the other is refused.
    let (kept, err) = match (r1, r2) {
        (Ok(()), Err(e)) => (&first, e),
        (Err(e), Ok(())) => (&other, e),
        (a, b) => panic!("exactly one must be refused: {a:?} {b:?}"),
    };
    let msg = err.to_string();
    assert!(
        msg.contains("run-03") && msg.contains("already recorded for another run"),
        "{msg}"
    );
    let runs = h1.list_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].started_at, kept.started_at);
    assert_eq!(runs[0].queries, kept.overall.count);
    // The same run recorded again from the other handle replaces it (one record, not two).
    h2.record(kept).await.unwrap();
    assert_eq!(h1.list_runs(10).await.unwrap().len(), 1);
    assert_eq!(
        h1.series("overall", "count", 10).await.unwrap().len(),
        1,
        "the replaced run's metrics are gone"
    );
    h1.close().await;
    h2.close().await;
}

/// No server needed: a PostgreSQL history nobody listens for fails at once with an error
/// that names the host, hides the user and says what to check.
#[tokio::test]
async fn an_unreachable_postgres_history_names_the_host_and_what_to_do() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let location =
        HistoryLocation::parse(&format!("postgres://perf@127.0.0.1:{port}/history"), "t").unwrap();
    let err = History::connect(&location).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("postgres://[redacted]@127.0.0.1:{port}/history")),
        "{msg}"
    );
    assert!(msg.contains("cannot connect to 127.0.0.1"), "{msg}");
    assert!(msg.contains("check that the server runs"), "{msg}");
    assert!(!msg.contains("perf@"), "{msg}");
}

/// Issue #28, item 8: a foreign SQLite database gained our tables. It is refused, naming
/// the file and its tables, and left as it was.
#[tokio::test]
async fn a_database_with_tables_we_did_not_create_is_refused_and_left_alone() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let err = History::open(&path).await.unwrap_err().to_string();
    assert!(err.contains("app.db"), "{err}");
    assert!(
        err.contains("`customers`") && err.contains("`invoices`"),
        "{err}"
    );
    assert!(err.contains("a file of its own"), "{err}");

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    assert_eq!(tables, ["customers", "invoices"], "nothing of ours added");

    // Our own history opens again, however often.
    let own = dir.path().join("history.db");
    History::open(&own).await.unwrap().close().await;
    let h = History::open(&own).await.unwrap();
    assert_eq!(h.schema_version().await.unwrap(), 2);
    h.close().await;
}
