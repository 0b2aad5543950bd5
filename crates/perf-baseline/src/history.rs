use std::path::Path;
use std::time::Duration;

use perf_core::record::{GroupStats, RunResult, TrendSeries};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Row};

use crate::{
    analyze_trend, config_digest, BaselineError, HistoryLocation, ResourceStats, TrendOptions,
};

/// The schema, as numbered migrations applied in order; the applied ones are recorded in
/// `schema_migrations`. Append new ones, never edit old ones. Each version exists once per
/// database kind, with the same tables, columns and meaning (a unit test holds the two
/// lists to the same versions and names).
const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "runs",
        include_str!("../migrations/sqlite/0001_runs.sql"),
    ),
    (
        2,
        "target_key",
        include_str!("../migrations/sqlite/0002_target_key.sql"),
    ),
];
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "runs",
        include_str!("../migrations/postgres/0001_runs.sql"),
    ),
    (
        2,
        "target_key",
        include_str!("../migrations/postgres/0002_target_key.sql"),
    ),
];

/// The tables the migrations create (with `schema_migrations`): a database holding any
/// other table is not a history of ours and is refused rather than written into.
const OWN_TABLES: [&str; 3] = ["schema_migrations", "runs", "run_metrics"];

/// Foreign table names quoted in the refusal, at most.
const FOREIGN_SHOWN: usize = 10;

/// How long opening a PostgreSQL history waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The key of the PostgreSQL advisory lock that serializes schema migrations of
/// concurrent openers (an arbitrary constant: "perf" "hist" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x7065_7266_6869_7374;

/// Metric rows written per INSERT statement (4 values each, well under either database's
/// limit on bound parameters).
const METRIC_ROWS_PER_INSERT: usize = 250;

/// Metrics of the `overall` key that [`History::trends`] analyses.
pub const TREND_METRICS: [&str; 6] = [
    "latency_median",
    "latency_mean",
    "latency_p95",
    "latency_p99",
    "success_rate",
    "throughput",
];

/// Streaming metrics of the `overall` key that [`History::trends`] analyses when runs
/// recorded them (runs that streamed nothing record none).
pub const STREAMING_TREND_METRICS: [&str; 5] = [
    "ttft_median",
    "ttft_p95",
    "itl_median",
    "tpot_median",
    "output_tokens_per_s",
];

/// One stored run, as listed by [`History::list_runs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// The target.
    pub target: String,
    /// Cut short.
    pub interrupted: bool,
    /// Queries.
    pub queries: u64,
    /// Successful queries.
    pub successes: u64,
    /// Success rate, 0–1.
    pub success_rate: f64,
    /// Queries per second.
    pub throughput_per_s: f64,
    /// Mean latency, ms.
    pub latency_mean_ms: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// P95 latency, ms.
    pub latency_p95_ms: f64,
    /// P99 latency, ms.
    pub latency_p99_ms: f64,
    /// Peak memory, MiB, when monitored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_mb: Option<f64>,
    /// Peak CPU, percent, when monitored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cpu_percent: Option<f64>,
    /// The baseline verdict, when the run was compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Digest of the run's configuration.
    pub config_digest: String,
    /// The bot it measured, `name (transport)` ([`crate::target_key`]): runs, trends and
    /// forecasts are kept apart by it.
    #[serde(default)]
    pub target_key: String,
}

/// The run history: every run's summary, for listings, series and trends. Stored in an
/// SQLite file (`data/history.db`, the default) or in a PostgreSQL database that several
/// machines record into at once ([`HistoryLocation`]).
#[derive(Clone)]
pub struct History {
    pool: Pool,
    location: HistoryLocation,
    /// Only the runs of this target ([`History::for_target`]).
    target: Option<String>,
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the pool of either kind and `$pg` telling which: one
/// piece of SQL text for both (`$1`-style parameters, which SQLite reads too), checked by
/// the compiler against both drivers.
macro_rules! on_pool {
    ($pool:expr, |$p:ident, $pg:ident| $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => {
                let $pg = false;
                let _ = $pg;
                $body
            }
            Pool::Postgres($p) => {
                let $pg = true;
                let _ = $pg;
                $body
            }
        }
    };
}

/// A failed step: what was being done, and why.
enum Step {
    Sql(&'static str, sqlx::Error),
    Refused(String),
}

type BoxedStep<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, Step>> + Send + 'a>>;

fn at(action: &'static str) -> impl FnOnce(sqlx::Error) -> Step {
    move |e| Step::Sql(action, e)
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The location's own Debug hides user and password; the pools are not shown.
        f.debug_struct("History")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl History {
    /// Opens (creating when missing) the SQLite database at `path` and brings its schema
    /// up to date. A database from a newer harness is refused with an error naming the
    /// file.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, BaselineError> {
        Self::connect(&HistoryLocation::Sqlite(path.as_ref().to_owned())).await
    }

    /// Opens the history at `location` (an SQLite file, created when missing, or a
    /// PostgreSQL database, which must exist) and brings its schema up to date; several
    /// processes may do so at once. Errors name the location (a URL without user or
    /// password) and say what to check.
    pub async fn connect(location: &HistoryLocation) -> Result<Self, BaselineError> {
        let pool = match location {
            HistoryLocation::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| BaselineError::io("creating directory", dir, e))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(2)
                    .connect_with(options)
                    .await
                    .map_err(|e| history_error(location, "opening", e))?;
                Pool::Sqlite(pool)
            }
            HistoryLocation::Postgres(url) => {
                Pool::Postgres(connect_postgres(location, url).await?)
            }
        };
        let history = Self {
            pool,
            location: location.clone(),
            target: None,
        };
        history.migrate().await?;
        history.backfill_target_keys().await?;
        Ok(history)
    }

    /// The same history seen through one target: listings, series, trends and noise
    /// estimates read only the runs of `target_key` ([`crate::target_key`]), so two bots'
    /// runs never make one series.
    pub fn for_target(&self, target_key: impl Into<String>) -> Self {
        Self {
            target: Some(target_key.into()),
            ..self.clone()
        }
    }

    /// Gives the runs recorded before runs were keyed by target
    /// (schema version 2) their key, derived from the `target` they stored.
    async fn backfill_target_keys(&self) -> Result<(), BaselineError> {
        let rows: Vec<(i64, String)> = on_pool!(&self.pool, |p, pg| {
            sqlx::query_as("SELECT seq, target FROM runs WHERE target_key = ''")
                .fetch_all(p)
                .await
        })
        .map_err(|e| self.err("reading runs without a target key", e))?;
        for (seq, target) in rows {
            let key = crate::baseline::legacy_target_key(&target);
            on_pool!(&self.pool, |p, pg| {
                sqlx::query("UPDATE runs SET target_key = $1 WHERE seq = $2")
                    .bind(&key)
                    .bind(seq)
                    .execute(p)
                    .await
                    .map(|_| ())
            })
            .map_err(|e| self.err("keying an old run by its target", e))?;
        }
        Ok(())
    }

    /// `AND <column> = $n` when the history is seen through one target, else nothing.
    fn target_filter(&self, column: &str, n: u32) -> String {
        match self.target {
            Some(_) => format!(" AND {column} = ${n}"),
            None => String::new(),
        }
    }

    /// Where the history is stored.
    pub fn location(&self) -> &HistoryLocation {
        &self.location
    }

    /// The schema version in force.
    pub async fn schema_version(&self) -> Result<i64, BaselineError> {
        let v: Option<i64> = on_pool!(&self.pool, |p, pg| {
            sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                .fetch_one(p)
                .await
        })
        .map_err(|e| self.err("reading the schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    /// Applies the missing migrations in one transaction that holds the database's write
    /// lock (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: an advisory lock), so processes that
    /// open a fresh history at the same moment apply each migration once.
    async fn migrate(&self) -> Result<(), BaselineError> {
        let result: Result<(), Step> = on_pool!(&self.pool, |p, pg| {
            // Boxed as a `Send` future here, where every lifetime is known: without it
            // rustc cannot prove the transaction's borrows `Send` for callers that spawn
            // (rust-lang/rust#102211).
            let migrations: Vec<(i64, &'static str, &'static str)> = if pg {
                POSTGRES_MIGRATIONS.to_vec()
            } else {
                SQLITE_MIGRATIONS.to_vec()
            };
            let work: BoxedStep<'_, ()> = Box::pin(async move {
                let mut tx = p
                    .begin_with(if pg { "BEGIN" } else { "BEGIN IMMEDIATE" })
                    .await
                    .map_err(at("starting a migration"))?;
                if pg {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(MIGRATION_LOCK_KEY)
                        .execute(&mut *tx)
                        .await
                        .map_err(at("locking the schema"))?;
                }
                // Before anything is created: a database with tables of someone else's
                // gets none of ours (issue #28: a foreign file gained our tables).
                let tables: Vec<String> = sqlx::query_scalar(if pg {
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = current_schema() ORDER BY 1"
                } else {
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY 1"
                })
                .fetch_all(&mut *tx)
                .await
                .map_err(at("listing the tables"))?;
                let foreign: Vec<&String> = tables
                    .iter()
                    .filter(|t| !OWN_TABLES.contains(&t.as_str()))
                    .collect();
                if !foreign.is_empty() {
                    let mut names: Vec<String> = foreign
                        .iter()
                        .take(FOREIGN_SHOWN)
                        .map(|t| format!("`{}`", t.escape_debug()))
                        .collect();
                    if foreign.len() > FOREIGN_SHOWN {
                        names.push(format!("{} more", foreign.len() - FOREIGN_SHOWN));
                    }
                    let instead = if pg {
                        "give the history a database of its own, or a schema of its own (?options[search_path]=perf)"
                    } else {
                        "give the history a file of its own (history_path, history_url or --history-url)"
                    };
                    return Err(Step::Refused(format!(
                        "not a run history of this harness: it holds tables it did not create ({}), and none are added; {instead}",
                        names.join(", ")
                    )));
                }
                sqlx::Executor::execute(
                    &mut *tx,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (
                        version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                )
                .await
                .map_err(at("creating schema_migrations"))?;
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(at("reading the schema version"))?;
                let current = current.unwrap_or(0);
                let newest = migrations.last().map_or(0, |m| m.0);
                if current > newest {
                    return Err(Step::Refused(format!(
                        "schema version {current} is newer than this harness reads ({newest}): upgrade the harness or use another history"
                    )));
                }
                // Owned 'static values: a borrowed iterator held across the awaits below
                // makes the future's Send-ness unprovable (see above).
                let pending: Vec<(i64, &'static str, &'static str)> =
                    migrations.into_iter().filter(|m| m.0 > current).collect();
                for (version, name, sql) in pending {
                    sqlx::Executor::execute(&mut *tx, sql)
                        .await
                        .map_err(at("applying a migration"))?;
                    sqlx::query(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    )
                    .bind(version)
                    .bind(name)
                    .bind(crate::time::now_rfc3339())
                    .execute(&mut *tx)
                    .await
                    .map_err(at("recording a migration"))?;
                }
                tx.commit().await.map_err(at("committing a migration"))
            });
            work.await
        });
        result.map_err(|s| self.step_err(s))
    }

    /// Stores `run`'s summary. Recording the same run again (same run id and start time)
    /// replaces the earlier record; a different run under a run id already taken is refused
    /// rather than overwriting another machine's run. Each run is one transaction, so
    /// machines recording at the same moment never see or leave half a run.
    pub async fn record(&self, run: &RunResult) -> Result<(), BaselineError> {
        let s = run.summary();
        let o = &s.overall;
        let resources = ResourceStats::from_run(run);
        let max_mem = resources.memory_mb.map(|r| r.max);
        let max_cpu = resources.cpu_percent.map(|r| r.max);
        let summary_json = serde_json::to_string(&s).map_err(|e| BaselineError::History {
            location: self.location.redacted(),
            message: format!("cannot serialize the summary: {e}"),
        })?;
        let target = crate::describe_target(&run.target);
        let target_key = crate::target_key(&run.target);
        let digest = config_digest(&run.config);
        let verdict = run.comparison.as_ref().map(|c| c.overall.as_str());
        let recorded_at = crate::time::now_rfc3339();
        let mut rows: Vec<(String, &'static str, f64)> = Vec::new();
        let mut group = |key: String, g: &GroupStats| {
            let l = g.latency.summary();
            let sent = g.count - g.outcome_count("dropped");
            let throughput = if run.wall_time_s > 0.0 {
                sent as f64 / run.wall_time_s
            } else {
                0.0
            };
            for (metric, value) in [
                ("latency_median", l.p50_ms),
                ("latency_mean", l.mean_ms),
                ("latency_p95", l.p95_ms),
                ("latency_p99", l.p99_ms),
                ("success_rate", g.success_rate()),
                ("throughput", throughput),
                ("count", g.count as f64),
            ] {
                rows.push((key.clone(), metric, value));
            }
            // Streaming figures only where they were measured: a missing figure is no
            // row, never a 0 that would drag a trend down.
            for (hist, metrics) in [
                (
                    &g.ttft,
                    &[
                        ("ttft_median", 50.0),
                        ("ttft_p95", 95.0),
                        ("ttft_p99", 99.0),
                    ][..],
                ),
                (&g.itl, &[("itl_median", 50.0), ("itl_p95", 95.0)][..]),
                (&g.tpot, &[("tpot_median", 50.0), ("tpot_p95", 95.0)][..]),
            ] {
                if hist.is_empty() {
                    continue;
                }
                for &(metric, p) in metrics {
                    rows.push((
                        key.clone(),
                        metric,
                        hist.percentile_micros(p) as f64 / 1000.0,
                    ));
                }
            }
            if !g.ttft.is_empty() {
                rows.push((key.clone(), "ttft_mean", g.ttft.mean_micros() / 1000.0));
            }
            if g.token_counted > 0 {
                rows.push((key.clone(), "output_tokens", g.output_tokens as f64));
                if run.wall_time_s > 0.0 {
                    rows.push((
                        key.clone(),
                        "output_tokens_per_s",
                        g.output_tokens as f64 / run.wall_time_s,
                    ));
                }
            }
        };
        group("overall".into(), &run.overall);
        for (prefix, map) in [
            ("agent", &run.per_agent),
            ("category", &run.per_category),
            ("scenario", &run.per_scenario),
        ] {
            for (k, g) in map {
                group(format!("{prefix}:{k}"), g);
            }
        }
        // Goodput and quality only where the run counted them (never a 0 for "unknown").
        if let Some(g) = run.goodput.as_ref().map(|g| g.summary(run.wall_time_s)) {
            if let Some(v) = g.overall.goodput_per_s {
                rows.push(("overall".into(), "goodput", v));
            }
            if let Some(v) = g.overall.quality {
                rows.push(("overall".into(), "quality", v));
            }
        }
        if let Some(v) = max_mem {
            rows.push(("overall".into(), "max_memory", v));
        }
        if let Some(v) = max_cpu {
            rows.push(("overall".into(), "max_cpu", v));
        }
        let rows: Vec<(String, &'static str, f64)> =
            rows.into_iter().filter(|r| r.2.is_finite()).collect();
        const INSERT_RUN: &str = "INSERT INTO runs (run_id, started_at, recorded_at, target, interrupted, queries,
                successes, success_rate, throughput_per_s, latency_mean_ms, latency_p50_ms,
                latency_p95_ms, latency_p99_ms, max_memory_mb, max_cpu_percent, verdict,
                config_digest, summary_json, target_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
        let result: Result<(), Step> = on_pool!(&self.pool, |p, pg| {
            // Boxed as a `Send` future here, where every lifetime is known: without it
            // rustc cannot prove the transaction's borrows `Send` for callers that spawn
            // (rust-lang/rust#102211).
            let work: BoxedStep<'_, ()> = Box::pin(async move {
                let mut tx = p.begin().await.map_err(at("starting a transaction"))?;
                // Two passes at most: the first inserts unless the run id is taken; when
                // it is taken by this same run, the old record goes and the second
                // inserts again.
                let mut seq: Option<i64> = None;
                for pass in 0..2 {
                    let sql = if pass == 0 {
                        format!("{INSERT_RUN} ON CONFLICT (run_id) DO NOTHING RETURNING seq")
                    } else {
                        format!("{INSERT_RUN} RETURNING seq")
                    };
                    seq = sqlx::query_scalar(&sql)
                        .bind(&run.run_id)
                        .bind(&run.started_at)
                        .bind(&recorded_at)
                        .bind(&target)
                        .bind(run.interrupted)
                        .bind(to_i64(o.count))
                        .bind(to_i64(o.successes))
                        .bind(o.success_rate)
                        .bind(o.throughput_per_s)
                        .bind(o.latency.mean_ms)
                        .bind(o.latency.p50_ms)
                        .bind(o.latency.p95_ms)
                        .bind(o.latency.p99_ms)
                        .bind(max_mem)
                        .bind(max_cpu)
                        .bind(verdict)
                        .bind(&digest)
                        .bind(&summary_json)
                        .bind(&target_key)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(at("recording a run"))?;
                    if seq.is_some() {
                        break;
                    }
                    let existing: Option<(i64, String)> =
                        sqlx::query_as("SELECT seq, started_at FROM runs WHERE run_id = $1")
                            .bind(&run.run_id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(at("reading the run recorded under this id"))?;
                    if let Some((old, started_at)) = existing {
                        if started_at != run.started_at {
                            return Err(Step::Refused(format!(
                                "run id `{}` is already recorded for another run (started {started_at}, this one {}): \
                                 two machines made the same run id; give each run its own id",
                                run.run_id, run.started_at
                            )));
                        }
                        sqlx::query("DELETE FROM run_metrics WHERE run_seq = $1")
                            .bind(old)
                            .execute(&mut *tx)
                            .await
                            .map_err(at("replacing a run"))?;
                        sqlx::query("DELETE FROM runs WHERE seq = $1")
                            .bind(old)
                            .execute(&mut *tx)
                            .await
                            .map_err(at("replacing a run"))?;
                    }
                }
                let Some(seq) = seq else {
                    return Err(Step::Refused(format!(
                        "run id `{}` could not be recorded: another process keeps recording it at the same time",
                        run.run_id
                    )));
                };
                for chunk in rows.chunks(METRIC_ROWS_PER_INSERT) {
                    let mut insert = sqlx::QueryBuilder::new(
                        "INSERT INTO run_metrics (run_seq, key, metric, value) ",
                    );
                    insert.push_values(chunk, |mut b, (key, metric, value)| {
                        b.push_bind(seq)
                            .push_bind(key.as_str())
                            .push_bind(*metric)
                            .push_bind(*value);
                    });
                    insert
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(at("recording metrics"))?;
                }
                tx.commit().await.map_err(at("committing a run"))
            });
            work.await
        });
        result.map_err(|s| self.step_err(s))
    }

    /// The newest `limit` runs, newest first (of one target, through
    /// [`History::for_target`]).
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>, BaselineError> {
        let sql = format!(
            "SELECT run_id, started_at, target, interrupted, queries, successes, success_rate,
                throughput_per_s, latency_mean_ms, latency_p50_ms, latency_p95_ms,
                latency_p99_ms, max_memory_mb, max_cpu_percent, verdict, config_digest, target_key
             FROM runs WHERE 1 = 1{} ORDER BY started_at DESC, seq DESC LIMIT $1",
            self.target_filter("target_key", 2)
        );
        let rows: Vec<RunRecord> = on_pool!(&self.pool, |p, pg| {
            let mut q = sqlx::query(&sql).bind(i64::from(limit));
            if let Some(t) = &self.target {
                q = q.bind(t);
            }
            let rows = q
                .fetch_all(p)
                .await
                .map_err(|e| self.err("listing runs", e))?;
            rows.iter()
                .map(|r| -> Result<RunRecord, sqlx::Error> {
                    Ok(RunRecord {
                        run_id: r.try_get("run_id")?,
                        started_at: r.try_get("started_at")?,
                        target: r.try_get("target")?,
                        interrupted: r.try_get("interrupted")?,
                        queries: r.try_get::<i64, _>("queries")?.max(0) as u64,
                        successes: r.try_get::<i64, _>("successes")?.max(0) as u64,
                        success_rate: r.try_get("success_rate")?,
                        throughput_per_s: r.try_get("throughput_per_s")?,
                        latency_mean_ms: r.try_get("latency_mean_ms")?,
                        latency_p50_ms: r.try_get("latency_p50_ms")?,
                        latency_p95_ms: r.try_get("latency_p95_ms")?,
                        latency_p99_ms: r.try_get("latency_p99_ms")?,
                        max_memory_mb: r.try_get("max_memory_mb")?,
                        max_cpu_percent: r.try_get("max_cpu_percent")?,
                        verdict: r.try_get("verdict")?,
                        config_digest: r.try_get("config_digest")?,
                        target_key: r.try_get("target_key")?,
                    })
                })
                .collect::<Result<_, _>>()
                .map_err(|e| self.err("reading runs", e))?
        });
        Ok(rows)
    }

    /// `metric` of `key` (`overall`, `agent:<name>`, ...) over the newest `last_n` runs
    /// that have it, oldest first, as `(run_id, started_at, value)`.
    pub async fn series(
        &self,
        key: &str,
        metric: &str,
        last_n: u32,
    ) -> Result<Vec<(String, String, f64)>, BaselineError> {
        let sql = format!(
            "SELECT r.run_id, r.started_at, m.value FROM run_metrics m
             JOIN runs r ON r.seq = m.run_seq
             WHERE m.key = $1 AND m.metric = $2{}
             ORDER BY r.started_at DESC, r.seq DESC LIMIT $3",
            self.target_filter("r.target_key", 4)
        );
        let mut rows: Vec<(String, String, f64)> = on_pool!(&self.pool, |p, pg| {
            let mut q = sqlx::query_as(&sql)
                .bind(key)
                .bind(metric)
                .bind(i64::from(last_n));
            if let Some(t) = &self.target {
                q = q.bind(t);
            }
            q.fetch_all(p).await
        })
        .map_err(|e| self.err("reading a series", e))?;
        rows.reverse();
        Ok(rows)
    }

    /// The trend of one metric over the newest `last_n` runs. Its name is the metric for
    /// the `overall` key and `<key>/<metric>` otherwise.
    pub async fn trend(
        &self,
        key: &str,
        metric: &str,
        last_n: u32,
        options: &TrendOptions,
    ) -> Result<TrendSeries, BaselineError> {
        let points = self.series(key, metric, last_n).await?;
        let name = if key == "overall" {
            metric.to_owned()
        } else {
            format!("{key}/{metric}")
        };
        Ok(analyze_trend(&name, points, options))
    }

    /// Trends of the `overall` key's [`TREND_METRICS`] (and peak memory and CPU, goodput
    /// and quality, and the [`STREAMING_TREND_METRICS`], when recorded) over the newest
    /// `last_n` runs; metrics without data are left out.
    pub async fn trends(
        &self,
        last_n: u32,
        options: &TrendOptions,
    ) -> Result<Vec<TrendSeries>, BaselineError> {
        let mut out = Vec::new();
        for metric in TREND_METRICS
            .iter()
            .chain(&["max_memory", "max_cpu", "goodput", "quality"])
            .chain(&STREAMING_TREND_METRICS)
        {
            let t = self.trend("overall", metric, last_n, options).await?;
            if !t.points.is_empty() {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Run-to-run noise of the `overall` median over the newest `last_n` runs, for
    /// [`crate::CompareOptions::run_noise`] (see [`crate::estimate_run_noise`]); `None`
    /// with fewer than 5 runs.
    pub async fn estimate_run_noise(&self, last_n: u32) -> Result<Option<f64>, BaselineError> {
        let series = self.series("overall", "latency_median", last_n).await?;
        let values: Vec<f64> = series.iter().map(|p| p.2).collect();
        Ok(crate::estimate_run_noise(&values))
    }

    /// Closes the connections.
    pub async fn close(self) {
        on_pool!(self.pool, |p, pg| p.close().await);
    }

    fn err(&self, action: &str, e: sqlx::Error) -> BaselineError {
        history_error(&self.location, action, e)
    }

    fn step_err(&self, step: Step) -> BaselineError {
        match step {
            Step::Sql(action, e) => self.err(action, e),
            Step::Refused(message) => BaselineError::History {
                location: self.location.redacted(),
                message,
            },
        }
    }
}

/// Connects to a PostgreSQL history: one direct connection first, so an unreachable or
/// refusing server gives its own error at once (the pool would retry a refused
/// connection until its timeout and report only that it timed out), then the pool.
async fn connect_postgres(
    location: &HistoryLocation,
    url: &crate::PostgresUrl,
) -> Result<PgPool, BaselineError> {
    let fail = |message: String| BaselineError::History {
        location: location.redacted(),
        message,
    };
    let host = url
        .host()
        .unwrap_or_else(|| "the default host (PGHOST or the local socket)".to_owned());
    // libpq's environment (PGUSER, PGPASSWORD, PGSSLMODE, ...) and ~/.pgpass fill what the
    // URL leaves out.
    let options: PgConnectOptions = url.secret_str().parse().map_err(|e: sqlx::Error| {
        fail(format!(
            "not a usable PostgreSQL URL ({}): write postgres://user@host:5432/database",
            scrub(&e.to_string(), url)
        ))
    })?;
    let options = options.application_name("perf-history");
    let what_to_do =
        "check that the server runs and this machine may reach it, that the database exists, \
         and that the user and password are right (PGUSER, PGPASSWORD or ~/.pgpass)";
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(e)) => {
            return Err(fail(format!(
                "cannot connect to {host}: {}; {what_to_do}",
                scrub(&e.to_string(), url)
            )))
        }
        Err(_) => {
            return Err(fail(format!(
                "no answer from {host} within {} s; {what_to_do}",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
    }
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| {
            fail(format!(
                "cannot connect to {host}: {}; {what_to_do}",
                scrub(&e.to_string(), url)
            ))
        })
}

/// Removes the URL's password from a driver message, should the driver ever quote it.
fn scrub(message: &str, url: &crate::PostgresUrl) -> String {
    url.passwords()
        .iter()
        .filter(|pw| !pw.is_empty())
        .fold(message.to_owned(), |m, pw| {
            m.replace(pw.as_str(), perf_core::REDACTED)
        })
}

fn history_error(location: &HistoryLocation, action: &str, e: sqlx::Error) -> BaselineError {
    BaselineError::History {
        location: location.redacted(),
        message: format!("{action}: {e}"),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_of_database_have_the_same_migrations() {
        let names = |m: &[(i64, &'static str, &str)]| -> Vec<(i64, &'static str)> {
            m.iter().map(|(v, n, _)| (*v, *n)).collect()
        };
        assert_eq!(names(SQLITE_MIGRATIONS), names(POSTGRES_MIGRATIONS));
        assert!(SQLITE_MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
