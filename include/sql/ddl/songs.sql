-- Dimension: one row per song of the catalog.
CREATE TABLE IF NOT EXISTS songs (
    song_id VARCHAR(32) NOT NULL,
    title VARCHAR(1024),
    artist_id VARCHAR(32),
    year INTEGER,
    duration DOUBLE PRECISION,
    PRIMARY KEY (song_id)
);
