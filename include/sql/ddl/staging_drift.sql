-- Schema drift per staging load: a source key staging does not map (kind 'unknown': a new
-- upstream field, dropped by COPY) or a mapped key records lacked (kind 'missing'), with
-- the records it drifted in out of records_read. Written by the staging tasks; see
-- include/sparkify/staging/drift.py and docs/operations.md.
CREATE TABLE IF NOT EXISTS staging_drift (
    run_id VARCHAR(250) NOT NULL,
    staging_table VARCHAR(64) NOT NULL,
    key_name VARCHAR(256) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    records BIGINT NOT NULL,
    records_read BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
