-- Keep in step with migrations/pg/0005.
CREATE TABLE webhook_attempts (
    job_id      TEXT NOT NULL,
    number      INTEGER NOT NULL,
    at          TEXT NOT NULL,
    url         TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    delivered   BOOLEAN NOT NULL,
    last        BOOLEAN NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (job_id, number)
);
