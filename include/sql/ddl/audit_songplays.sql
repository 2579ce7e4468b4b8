-- Write-audit-publish: a run's rows of songplays, written by its load task, checked by
-- Run_data_quality_checks, applied to songplays by Publish and then deleted. Rows of a
-- run whose checks failed stay here for inspection (docs/operations.md). The columns
-- of songplays after run_id, without its NOT NULL constraints: the checks report a NULL
-- rather than the write failing on it.
CREATE TABLE IF NOT EXISTS audit_songplays (
    run_id VARCHAR(250) NOT NULL,
    songplay_id VARCHAR(32),
    start_time TIMESTAMP,
    user_id INTEGER,
    level VARCHAR(16),
    song_id VARCHAR(32),
    artist_id VARCHAR(32),
    session_id INTEGER,
    location VARCHAR(512),
    user_agent VARCHAR(1024)
);
