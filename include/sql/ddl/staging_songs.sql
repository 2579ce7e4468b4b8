-- The song catalog, one row per song file. Column names equal the JSON keys:
-- Redshift COPY ... JSON 'auto' matches keys to column names.
CREATE TABLE IF NOT EXISTS staging_songs (
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
