-- Analytics: one row per UTC day of plays, built by sparkify_analytics from songplays
-- and users: plays, listeners, the paid and free share, the day's top song and artist.
CREATE TABLE IF NOT EXISTS daily_listening (
    play_date DATE NOT NULL,
    plays INTEGER NOT NULL,
    listeners INTEGER NOT NULL,
    paid_plays INTEGER NOT NULL,
    free_plays INTEGER NOT NULL,
    paid_share DECIMAL(5, 4) NOT NULL,
    paid_listeners_now INTEGER NOT NULL,
    top_song_id VARCHAR(32),
    top_song_title VARCHAR(1024),
    top_song_plays INTEGER,
    top_artist_id VARCHAR(32),
    top_artist_name VARCHAR(1024),
    top_artist_plays INTEGER,
    PRIMARY KEY (play_date)
);
