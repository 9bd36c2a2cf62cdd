-- Keep in step with migrations/pg/0003. SQLite cannot drop the column's
-- UNIQUE on idempotency_key, so the table is rebuilt.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    admin       BOOLEAN NOT NULL DEFAULT FALSE,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

CREATE TABLE jobs_with_tenants (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    tenant          TEXT NOT NULL DEFAULT 'default',
    idempotency_key TEXT,
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
    finished_at     TEXT,
    attempt         INTEGER NOT NULL DEFAULT 1,
    stage_rank      INTEGER NOT NULL DEFAULT 0,
    dispatched      BOOLEAN NOT NULL DEFAULT TRUE
);
INSERT INTO jobs_with_tenants (seq, id, idempotency_key, status, stage, progress, error, submitted_via, source_url,
                               upload_name, options, language, duration_ms, exports, created_at, updated_at,
                               finished_at, attempt, stage_rank, dispatched)
SELECT seq, id, idempotency_key, status, stage, progress, error, submitted_via, source_url, upload_name, options,
       language, duration_ms, exports, created_at, updated_at, finished_at, attempt, stage_rank, dispatched
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_with_tenants RENAME TO jobs;

CREATE INDEX jobs_status_seq ON jobs (status, seq);
CREATE INDEX jobs_undispatched ON jobs (seq) WHERE NOT dispatched;
CREATE UNIQUE INDEX jobs_tenant_idempotency_key ON jobs (tenant, idempotency_key);
CREATE INDEX jobs_tenant_seq ON jobs (tenant, seq);
