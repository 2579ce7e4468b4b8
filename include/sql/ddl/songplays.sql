-- Fact: one row per NextSong event. songplay_id is the MD5 of the event's identity
-- (user, session, item in session, ts), so reloading an event never adds a row.
CREATE TABLE IF NOT EXISTS songplays (
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
