-- Retry, ordering and the submission outbox.
-- attempt: the job attempt (a retry adds one); events of an older attempt are ignored.
-- stage_rank: route position of `stage`; the ledger never moves a job back.
-- dispatched: the first task was published; until then the dispatcher retries it.
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN stage_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN dispatched BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX jobs_undispatched ON jobs (seq) WHERE NOT dispatched;
