-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name = 'staging_drift'
-- Schema drift per staging load (include/sparkify/staging/drift.py). A new table only.
CREATE TABLE staging_drift (
    run_id VARCHAR(250) NOT NULL,
    staging_table VARCHAR(64) NOT NULL,
    key_name VARCHAR(256) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    records BIGINT NOT NULL,
    records_read BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
