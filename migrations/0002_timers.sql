-- Durable timers for the scheduler. The payload is encrypted (it may name a member).
CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT,
    due_ms INTEGER NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX timers_due ON timers (due_ms);
CREATE UNIQUE INDEX timers_kind_key ON timers (kind, key) WHERE key IS NOT NULL;
