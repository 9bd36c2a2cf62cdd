-- The job ledger for the embedded store (local mode). Keep in step with
-- migrations/pg: same columns, SQLite types.
CREATE TABLE jobs (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    idempotency_key TEXT UNIQUE,
    status          TEXT NOT NULL,
    stage           TEXT,
    progress        REAL NOT NULL DEFAULT 0,
    error           TEXT,
    submitted_via   TEXT NOT NULL,
    source_url      TEXT,
    upload_name     TEXT,
    options         TEXT NOT NULL,
    language        TEXT,
    duration_ms     INTEGER,
    exports         TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);

CREATE INDEX jobs_status_seq ON jobs (status, seq);
