-- Full-text search over finished transcripts: one row per segment, written
-- when the ledger records a job's completion (and again when its speakers
-- are renamed), removed with the job. The 'simple' configuration (no
-- stemming, no stop words) works the same for every language whisper
-- writes; the speaker's name is part of the document, so a renamed speaker
-- is found by name.
CREATE TABLE search_segments (
    job_id       TEXT NOT NULL,
    tenant       TEXT NOT NULL,
    idx          BIGINT NOT NULL,
    start_ms     BIGINT NOT NULL,
    end_ms       BIGINT NOT NULL,
    speaker      TEXT,
    speaker_name TEXT,
    language     TEXT NOT NULL,
    text         TEXT NOT NULL,
    document     tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(speaker_name, '') || ' ' || text)) STORED,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX search_segments_document ON search_segments USING GIN (document);
CREATE INDEX search_segments_tenant ON search_segments (tenant);
