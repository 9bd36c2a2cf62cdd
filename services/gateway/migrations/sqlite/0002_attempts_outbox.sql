-- Keep in step with migrations/pg/0002.
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jobs ADD COLUMN stage_rank INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN dispatched BOOLEAN NOT NULL DEFAULT TRUE;
CREATE INDEX jobs_undispatched ON jobs (seq) WHERE NOT dispatched;
