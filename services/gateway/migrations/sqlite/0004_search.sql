-- Keep in step with migrations/pg/0004: the same rows in an FTS5 table
-- (diacritics folded), searched on the text and the speaker's name.
CREATE VIRTUAL TABLE search_segments USING fts5(
    text,
    speaker_name,
    job_id UNINDEXED,
    tenant UNINDEXED,
    idx UNINDEXED,
    start_ms UNINDEXED,
    end_ms UNINDEXED,
    speaker UNINDEXED,
    language UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
