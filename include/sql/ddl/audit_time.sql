-- Write-audit-publish: a run's rows of time, written by its load task, checked by
-- Run_data_quality_checks, applied to time by Publish and then deleted. Rows of a
-- run whose checks failed stay here for inspection (docs/operations.md). The columns
-- of time after run_id, without its NOT NULL constraints: the checks report a NULL
-- rather than the write failing on it.
CREATE TABLE IF NOT EXISTS audit_time (
    run_id VARCHAR(250) NOT NULL,
    start_time TIMESTAMP,
    hour INTEGER,
    day INTEGER,
    week INTEGER,
    month INTEGER,
    year INTEGER,
    weekday INTEGER
);
