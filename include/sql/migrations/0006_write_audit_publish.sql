-- applied-if: SELECT COUNT(*) = 6 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name IN ('audit_songplays', 'audit_users', 'audit_songs', 'audit_artists',
--     'audit_time', 'load_volumes')
-- Write-audit-publish: the loads write a run's rows into audit_<table>; Publish applies
-- them to the published tables once the checks passed and records the run's row counts
-- in load_volumes, the history of the volume checks. New tables only: nothing published
-- changes.

CREATE TABLE audit_songplays (
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

CREATE TABLE audit_users (
    run_id VARCHAR(250) NOT NULL,
    user_id INTEGER,
    first_name VARCHAR(256),
    last_name VARCHAR(256),
    gender VARCHAR(16),
    level VARCHAR(16),
    last_seen_at TIMESTAMP
);

CREATE TABLE audit_songs (
    run_id VARCHAR(250) NOT NULL,
    song_id VARCHAR(32),
    title VARCHAR(1024),
    artist_id VARCHAR(32),
    year INTEGER,
    duration DOUBLE PRECISION
);

CREATE TABLE audit_artists (
    run_id VARCHAR(250) NOT NULL,
    artist_id VARCHAR(32),
    name VARCHAR(1024),
    location VARCHAR(1024),
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION
);

CREATE TABLE audit_time (
    run_id VARCHAR(250) NOT NULL,
    start_time TIMESTAMP,
    hour INTEGER,
    day INTEGER,
    week INTEGER,
    month INTEGER,
    year INTEGER,
    weekday INTEGER
);

CREATE TABLE load_volumes (
    run_id VARCHAR(250) NOT NULL,
    loaded_table VARCHAR(64) NOT NULL,
    load_mode VARCHAR(16) NOT NULL,
    interval_start TIMESTAMP,
    interval_end TIMESTAMP,
    rows_loaded BIGINT NOT NULL,
    published_at TIMESTAMP NOT NULL
);
