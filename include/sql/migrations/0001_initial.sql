-- applied-if: SELECT COUNT(*) = 9 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name IN ('artists', 'songplays', 'songs', 'staging_events', 'staging_manifest',
--     'staging_rejects', 'staging_songs', 'time', 'users')
-- The schema as the first releases created it (include/sql/ddl/ as of commit 8babb8c): the
-- staging tables, the star schema and the staging bookkeeping. Never edit this file: a
-- warehouse that applied it keeps its checksum in schema_migrations.

-- Raw listening events, one row per log line. Columns are in the order of
-- log_json_path.json: Redshift COPY maps the jsonpaths to columns by position.
-- userid is text because logged-out events carry an empty string.
CREATE TABLE staging_events (
    artist VARCHAR(512),
    auth VARCHAR(32),
    firstname VARCHAR(256),
    gender VARCHAR(16),
    iteminsession INTEGER,
    lastname VARCHAR(256),
    length DOUBLE PRECISION,
    level VARCHAR(16),
    location VARCHAR(512),
    method VARCHAR(16),
    page VARCHAR(64),
    registration DOUBLE PRECISION,
    sessionid INTEGER,
    song VARCHAR(512),
    status INTEGER,
    ts BIGINT,
    useragent VARCHAR(1024),
    userid VARCHAR(64)
);

-- The song catalog, one row per song file. Column names equal the JSON keys:
-- Redshift COPY ... JSON 'auto' matches keys to column names.
CREATE TABLE staging_songs (
    num_songs INTEGER,
    artist_id VARCHAR(32),
    artist_latitude DOUBLE PRECISION,
    artist_longitude DOUBLE PRECISION,
    artist_location VARCHAR(1024),
    artist_name VARCHAR(1024),
    song_id VARCHAR(32),
    title VARCHAR(1024),
    duration DOUBLE PRECISION,
    year INTEGER
);

-- What each staging table last loaded: lets an hourly run skip re-reading an
-- unchanged song catalog (same object keys, sizes and ETags).
CREATE TABLE staging_manifest (
    staging_table VARCHAR(64) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    objects INTEGER NOT NULL,
    bytes BIGINT NOT NULL,
    rows_staged BIGINT NOT NULL,
    run_id VARCHAR(256) NOT NULL,
    staged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (staging_table)
);

-- Source records that could not be staged: where they came from, why, and the raw text.
-- Restaging a table for a run first deletes that run's rejects for it, so they never repeat.
CREATE TABLE staging_rejects (
    staging_table VARCHAR(64) NOT NULL,
    source_key VARCHAR(1024) NOT NULL,
    line_number INTEGER NOT NULL,
    reason VARCHAR(1024) NOT NULL,
    raw_text VARCHAR(65535),
    run_id VARCHAR(256) NOT NULL,
    rejected_at TIMESTAMP NOT NULL
);

-- Fact: one row per NextSong event. songplay_id is the MD5 of the event's identity
-- (user, session, item in session, ts), so reloading an event never adds a row.
CREATE TABLE songplays (
    songplay_id VARCHAR(32) NOT NULL,
    start_time TIMESTAMP NOT NULL,
    user_id INTEGER NOT NULL,
    level VARCHAR(16),
    song_id VARCHAR(32),
    artist_id VARCHAR(32),
    session_id INTEGER,
    location VARCHAR(512),
    user_agent VARCHAR(1024),
    PRIMARY KEY (songplay_id)
);

-- Dimension: one row per user, as of their latest event (last_seen_at).
CREATE TABLE users (
    user_id INTEGER NOT NULL,
    first_name VARCHAR(256),
    last_name VARCHAR(256),
    gender VARCHAR(16),
    level VARCHAR(16),
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id)
);

-- Dimension: one row per song of the catalog.
CREATE TABLE songs (
    song_id VARCHAR(32) NOT NULL,
    title VARCHAR(1024),
    artist_id VARCHAR(32),
    year INTEGER,
    duration DOUBLE PRECISION,
    PRIMARY KEY (song_id)
);

-- Dimension: one row per artist of the catalog.
CREATE TABLE artists (
    artist_id VARCHAR(32) NOT NULL,
    name VARCHAR(1024),
    location VARCHAR(1024),
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    PRIMARY KEY (artist_id)
);

-- Dimension: one row per distinct songplay start_time, broken into calendar units.
-- weekday: 0 = Sunday ... 6 = Saturday.
CREATE TABLE time (
    start_time TIMESTAMP NOT NULL,
    hour INTEGER NOT NULL,
    day INTEGER NOT NULL,
    week INTEGER NOT NULL,
    month INTEGER NOT NULL,
    year INTEGER NOT NULL,
    weekday INTEGER NOT NULL,
    PRIMARY KEY (start_time)
);
