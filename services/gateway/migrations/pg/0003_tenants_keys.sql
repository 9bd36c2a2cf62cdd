-- Keys and tenants. Every job belongs to one tenant; an API key names its
-- tenant (an admin key sees every tenant). A key is stored as the SHA-256
-- of its secret, found by its public id. Idempotency keys are per tenant.
CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    admin       BOOLEAN NOT NULL DEFAULT FALSE,
    secret_hash TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE jobs DROP CONSTRAINT jobs_idempotency_key_key;
CREATE UNIQUE INDEX jobs_tenant_idempotency_key ON jobs (tenant, idempotency_key);
CREATE INDEX jobs_tenant_seq ON jobs (tenant, seq);
CREATE INDEX jobs_tenant_in_flight ON jobs (tenant) WHERE status IN ('queued', 'running');
