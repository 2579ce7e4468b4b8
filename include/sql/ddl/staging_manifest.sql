-- What each staging table last loaded: lets an hourly run skip re-reading an
-- unchanged song catalog (same object keys, sizes and ETags), and skip even listing it
-- until checked_at is older than SPARKIFY_CATALOG_CHECK_MINUTES.
CREATE TABLE IF NOT EXISTS staging_manifest (
    staging_table VARCHAR(64) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    objects INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    rows_staged BIGINT NOT NULL,
    run_id VARCHAR(256) NOT NULL,
    staged_at TIMESTAMP NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (staging_table)
);
