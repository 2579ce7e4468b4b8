-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.columns WHERE table_schema = 'public'
--     AND table_name = 'staging_manifest' AND column_name = 'checked_at'
-- staging_manifest.checked_at (commit c04ddf9): when the song catalog was last compared
-- with S3; an hourly run skips even listing it until this is older than
-- SPARKIFY_CATALOG_CHECK_MINUTES.
--
-- The column is NOT NULL without a default. Redshift adds a NOT NULL column only with a
-- DEFAULT and cannot drop a default afterwards (ALTER TABLE has no ALTER COLUMN ... DROP
-- DEFAULT or SET NOT NULL: https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html),
-- so the table is rebuilt instead: it holds one row per staging table. A row staged before
-- this migration was compared with S3 when it was staged: its checked_at is its staged_at.
CREATE TEMPORARY TABLE staging_manifest_0003 AS
SELECT
    staging_table,
    fingerprint,
    objects,
    bytes,
    rows_staged,
    run_id,
    staged_at
FROM staging_manifest;

DROP TABLE staging_manifest;

-- What each staging table last loaded: lets an hourly run skip re-reading an
-- unchanged song catalog (same object keys, sizes and ETags), and skip even listing it
-- until checked_at is older than SPARKIFY_CATALOG_CHECK_MINUTES.
CREATE TABLE staging_manifest (
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

INSERT INTO staging_manifest (
    staging_table, fingerprint, objects, bytes, rows_staged, run_id, staged_at, checked_at
)
SELECT
    staging_table,
    fingerprint,
    objects,
    bytes,
    rows_staged,
    run_id,
    staged_at,
    staged_at AS checked_at
FROM staging_manifest_0003;

DROP TABLE staging_manifest_0003;
