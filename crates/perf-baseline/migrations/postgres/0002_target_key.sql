-- Runs keyed by the bot they measured: `name (transport)` without the version (a new
-- version of the same bot is what a trend follows). Rows recorded before get theirs from
-- `target` when the history is opened (History::connect).
ALTER TABLE runs ADD COLUMN target_key TEXT NOT NULL DEFAULT '';

CREATE INDEX runs_by_target ON runs (target_key, started_at, seq);
