-- Write-audit-publish: a run's rows of songs, written by its load task, checked by
-- Run_data_quality_checks, applied to songs by Publish and then deleted. Rows of a
-- run whose checks failed stay here for inspection (docs/operations.md). The columns
-- of songs after run_id, without its NOT NULL constraints: the checks report a NULL
-- rather than the write failing on it.
CREATE TABLE IF NOT EXISTS audit_songs (
    run_id VARCHAR(250) NOT NULL,
    song_id VARCHAR(32),
    title VARCHAR(1024),
    artist_id VARCHAR(32),
    year INTEGER,
    duration DOUBLE PRECISION
);
