-- Write-audit-publish: a run's rows of users, written by its load task, checked by
-- Run_data_quality_checks, applied to users by Publish and then deleted. Rows of a
-- run whose checks failed stay here for inspection (docs/operations.md). The columns
-- of users after run_id, without its NOT NULL constraints: the checks report a NULL
-- rather than the write failing on it.
CREATE TABLE IF NOT EXISTS audit_users (
    run_id VARCHAR(250) NOT NULL,
    user_id INTEGER,
    first_name VARCHAR(256),
    last_name VARCHAR(256),
    gender VARCHAR(16),
    level VARCHAR(16),
    last_seen_at TIMESTAMP
);
