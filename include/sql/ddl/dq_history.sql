-- Data-quality history: one row per check per try of every run, passed or failed
-- (written by the checks of Run_data_quality_checks). Query it for trends; see
-- include/sql/monitoring/ and docs/operations.md.
CREATE TABLE IF NOT EXISTS dq_history (
    checked_at TIMESTAMP NOT NULL,
    dag_id VARCHAR(250) NOT NULL,
    run_id VARCHAR(250) NOT NULL,
    task_id VARCHAR(250) NOT NULL,
    try_number INTEGER,
    check_name VARCHAR(256) NOT NULL,
    check_type VARCHAR(64),
    table_name VARCHAR(256),
    column_name VARCHAR(256),
    observed_value VARCHAR(4096),
    threshold VARCHAR(1024),
    passed BOOLEAN NOT NULL,
    interval_start TIMESTAMP,
    interval_end TIMESTAMP
);
