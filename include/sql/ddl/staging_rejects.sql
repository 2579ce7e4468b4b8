-- Source records that could not be staged: where they came from, why, and the raw text
-- (its first bytes; raw_bytes and raw_sha256 describe the whole record).
-- Restaging a table for a run first deletes that run's rejects for it, so they never repeat.
CREATE TABLE IF NOT EXISTS staging_rejects (
    staging_table VARCHAR(64) NOT NULL,
    source_key VARCHAR(1024) NOT NULL,
    line_number INTEGER NOT NULL,
    reason VARCHAR(1024) NOT NULL,
    raw_text VARCHAR(65535),
    run_id VARCHAR(256) NOT NULL,
    rejected_at TIMESTAMP NOT NULL,
    raw_bytes BIGINT,
    raw_sha256 VARCHAR(64)
);
