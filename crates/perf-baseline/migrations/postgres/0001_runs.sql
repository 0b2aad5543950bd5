-- Run history on PostgreSQL: the same tables, columns and indexes as
-- migrations/sqlite/0001_runs.sql, in PostgreSQL's types (REAL is 4 bytes there, so
-- figures are DOUBLE PRECISION). Times are RFC 3339 text compared byte by byte (COLLATE
-- "C"), as SQLite compares them, so both order runs the same way.
CREATE TABLE runs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    started_at TEXT COLLATE "C" NOT NULL,
    recorded_at TEXT NOT NULL,
    target TEXT NOT NULL,
    interrupted BOOLEAN NOT NULL,
    queries BIGINT NOT NULL,
    successes BIGINT NOT NULL,
    success_rate DOUBLE PRECISION NOT NULL,
    throughput_per_s DOUBLE PRECISION NOT NULL,
    latency_mean_ms DOUBLE PRECISION NOT NULL,
    latency_p50_ms DOUBLE PRECISION NOT NULL,
    latency_p95_ms DOUBLE PRECISION NOT NULL,
    latency_p99_ms DOUBLE PRECISION NOT NULL,
    max_memory_mb DOUBLE PRECISION,
    max_cpu_percent DOUBLE PRECISION,
    verdict TEXT,
    config_digest TEXT NOT NULL,
    summary_json TEXT NOT NULL
);

CREATE INDEX runs_by_start ON runs (started_at, seq);

CREATE TABLE run_metrics (
    run_seq BIGINT NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    metric TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_seq, key, metric)
);

CREATE INDEX run_metrics_by_metric ON run_metrics (key, metric);
