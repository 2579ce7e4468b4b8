-- Raw listening events, one row per log line. Columns are in the order of
-- log_json_path.json: Redshift COPY maps the jsonpaths to columns by position.
-- userid is text because logged-out events carry an empty string. source_key names the
-- object each row came from: an hourly run replaces only its day file's rows, so runs of
-- different days can stage side by side.
CREATE TABLE IF NOT EXISTS staging_events (
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
    userid VARCHAR(64),
    source_key VARCHAR(1024)
);
