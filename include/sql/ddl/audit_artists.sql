-- Write-audit-publish: a run's rows of artists, written by its load task, checked by
-- Run_data_quality_checks, applied to artists by Publish and then deleted. Rows of a
-- run whose checks failed stay here for inspection (docs/operations.md). The columns
-- of artists after run_id, without its NOT NULL constraints: the checks report a NULL
-- rather than the write failing on it.
CREATE TABLE IF NOT EXISTS audit_artists (
    run_id VARCHAR(250) NOT NULL,
    artist_id VARCHAR(32),
    name VARCHAR(1024),
    location VARCHAR(1024),
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION
);
