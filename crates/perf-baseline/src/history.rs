use std::path::{Path, PathBuf};

use perf_core::{GroupStats, RunResult, TrendSeries};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::{analyze_trend, config_digest, BaselineError, ResourceStats, TrendOptions};

/// The schema, as numbered migrations applied in order; the applied ones are recorded in
/// `schema_migrations`. Append new ones, never edit old ones.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "runs", include_str!("../migrations/0001_runs.sql"))];

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
}

/// The run history (`data/history.db`): every run's summary, for listings, series and
/// trends.
#[derive(Debug, Clone)]
pub struct History {
    pool: SqlitePool,
    path: PathBuf,
}

impl History {
    /// Opens (creating when missing) the database at `path` and brings its schema up to
    /// date. A database from a newer harness is refused with an error naming the file.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, BaselineError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| BaselineError::io("creating directory", dir, e))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(|e| history_error(&path, "opening", e))?;
        let history = Self { pool, path };
        history.migrate().await?;
        Ok(history)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in force.
    pub async fn schema_version(&self) -> Result<i64, BaselineError> {
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| self.err("reading the schema version", e))?;
        Ok(v.unwrap_or(0))
    }

    async fn migrate(&self) -> Result<(), BaselineError> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(|e| self.err("creating schema_migrations", e))?;
        let current = self.schema_version().await?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > newest {
            return Err(BaselineError::History {
                path: self.path.clone(),
                message: format!(
                    "schema version {current} is newer than this harness reads ({newest}): upgrade the harness or use another history file"
                ),
            });
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            let mut tx = self
                .pool
                .begin()
                .await
                .map_err(|e| self.err("starting a migration", e))?;
            sqlx::raw_sql(sql)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.err("applying a migration", e))?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(version)
            .bind(name)
            .bind(crate::time::now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("recording a migration", e))?;
            tx.commit()
                .await
                .map_err(|e| self.err("committing a migration", e))?;
        }
        Ok(())
    }

    /// Stores `run`'s summary (replacing an earlier record of the same run id).
    pub async fn record(&self, run: &RunResult) -> Result<(), BaselineError> {
        let s = run.summary();
        let o = &s.overall;
        let resources = ResourceStats::from_run(run);
        let max_mem = resources.memory_mb.map(|r| r.max);
        let max_cpu = resources.cpu_percent.map(|r| r.max);
        let summary_json = serde_json::to_string(&s).map_err(|e| BaselineError::History {
            path: self.path.clone(),
            message: format!("cannot serialize the summary: {e}"),
        })?;
        let target = match &run.target.version {
            Some(v) => format!("{} {v} ({})", run.target.name, run.target.transport),
            None => format!("{} ({})", run.target.name, run.target.transport),
        };
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| self.err("starting a transaction", e))?;
        sqlx::query(
            "DELETE FROM run_metrics WHERE run_seq IN (SELECT seq FROM runs WHERE run_id = ?)",
        )
        .bind(&run.run_id)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err("replacing a run", e))?;
        sqlx::query("DELETE FROM runs WHERE run_id = ?")
            .bind(&run.run_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("replacing a run", e))?;
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO runs (run_id, started_at, recorded_at, target, interrupted, queries,
                successes, success_rate, throughput_per_s, latency_mean_ms, latency_p50_ms,
                latency_p95_ms, latency_p99_ms, max_memory_mb, max_cpu_percent, verdict,
                config_digest, summary_json)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
        )
        .bind(&run.run_id)
        .bind(&run.started_at)
        .bind(crate::time::now_rfc3339())
        .bind(target)
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
        .bind(run.comparison.as_ref().map(|c| c.overall.as_str()))
        .bind(config_digest(&run.config))
        .bind(summary_json)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.err("recording a run", e))?;
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
        if let Some(v) = max_mem {
            rows.push(("overall".into(), "max_memory", v));
        }
        if let Some(v) = max_cpu {
            rows.push(("overall".into(), "max_cpu", v));
        }
        for (key, metric, value) in rows.into_iter().filter(|r| r.2.is_finite()) {
            sqlx::query(
                "INSERT INTO run_metrics (run_seq, key, metric, value) VALUES (?, ?, ?, ?)",
            )
            .bind(seq)
            .bind(key)
            .bind(metric)
            .bind(value)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.err("recording metrics", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| self.err("committing a run", e))?;
        Ok(())
    }

    /// The newest `limit` runs, newest first.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunRecord>, BaselineError> {
        let rows = sqlx::query(
            "SELECT run_id, started_at, target, interrupted, queries, successes, success_rate,
                throughput_per_s, latency_mean_ms, latency_p50_ms, latency_p95_ms,
                latency_p99_ms, max_memory_mb, max_cpu_percent, verdict, config_digest
             FROM runs ORDER BY started_at DESC, seq DESC LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
                })
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.err("reading runs", e))
    }

    /// `metric` of `key` (`overall`, `agent:<name>`, ...) over the newest `last_n` runs
    /// that have it, oldest first, as `(run_id, started_at, value)`.
    pub async fn series(
        &self,
        key: &str,
        metric: &str,
        last_n: u32,
    ) -> Result<Vec<(String, String, f64)>, BaselineError> {
        let mut rows: Vec<(String, String, f64)> = sqlx::query_as(
            "SELECT r.run_id, r.started_at, m.value FROM run_metrics m
             JOIN runs r ON r.seq = m.run_seq
             WHERE m.key = ? AND m.metric = ?
             ORDER BY r.started_at DESC, r.seq DESC LIMIT ?",
        )
        .bind(key)
        .bind(metric)
        .bind(i64::from(last_n))
        .fetch_all(&self.pool)
        .await
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

    /// Trends of the `overall` key's [`TREND_METRICS`] (and peak memory and CPU, and the
    /// [`STREAMING_TREND_METRICS`], when recorded) over the newest `last_n` runs; metrics
    /// without data are left out.
    pub async fn trends(
        &self,
        last_n: u32,
        options: &TrendOptions,
    ) -> Result<Vec<TrendSeries>, BaselineError> {
        let mut out = Vec::new();
        for metric in TREND_METRICS
            .iter()
            .chain(&["max_memory", "max_cpu"])
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
        self.pool.close().await;
    }

    fn err(&self, action: &str, e: sqlx::Error) -> BaselineError {
        history_error(&self.path, action, e)
    }
}

fn history_error(path: &Path, action: &str, e: sqlx::Error) -> BaselineError {
    BaselineError::History {
        path: path.to_owned(),
        message: format!("{action}: {e}"),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
