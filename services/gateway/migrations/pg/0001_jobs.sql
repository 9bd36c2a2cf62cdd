-- The job ledger. Only the gateway writes it.
CREATE TABLE jobs (
    seq             BIGSERIAL UNIQUE,
    id              TEXT PRIMARY KEY,
    idempotency_key TEXT UNIQUE,
    status          TEXT NOT NULL,
    stage           TEXT,
    progress        REAL NOT NULL DEFAULT 0,
    error           TEXT,
    submitted_via   TEXT NOT NULL,
    source_url      TEXT,
    upload_name     TEXT,
    options         JSONB NOT NULL,
    language        TEXT,
    duration_ms     BIGINT,
    exports         JSONB NOT NULL DEFAULT '[]',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at     TIMESTAMPTZ
);

CREATE INDEX jobs_status_seq ON jobs (status, seq);
