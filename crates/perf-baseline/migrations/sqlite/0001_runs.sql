-- Run history: one row per run with its headline figures, and every per-key metric in a
-- narrow table so series and trends are one indexed query.
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    target TEXT NOT NULL,
    interrupted INTEGER NOT NULL,
    queries INTEGER NOT NULL,
    successes INTEGER NOT NULL,
    success_rate REAL NOT NULL,
    throughput_per_s REAL NOT NULL,
    latency_mean_ms REAL NOT NULL,
    latency_p50_ms REAL NOT NULL,
    latency_p95_ms REAL NOT NULL,
    latency_p99_ms REAL NOT NULL,
    max_memory_mb REAL,
    max_cpu_percent REAL,
    verdict TEXT,
    config_digest TEXT NOT NULL,
    summary_json TEXT NOT NULL
);

CREATE INDEX runs_by_start ON runs (started_at, seq);

CREATE TABLE run_metrics (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    key TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run_seq, key, metric)
);

CREATE INDEX run_metrics_by_metric ON run_metrics (key, metric);
