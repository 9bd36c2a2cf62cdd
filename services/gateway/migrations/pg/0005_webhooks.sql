-- Every attempt to deliver a job's webhook, as the notify service reports
-- it (`webhook` events); shown by GET /v1/jobs/{id}/webhooks, removed with
-- the job.
CREATE TABLE webhook_attempts (
    job_id      TEXT NOT NULL,
    number      BIGINT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    url         TEXT NOT NULL,
    http_status BIGINT NOT NULL,
    delivered   BOOLEAN NOT NULL,
    last        BOOLEAN NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (job_id, number)
);
