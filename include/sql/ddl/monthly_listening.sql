-- Analytics: one row per calendar month (UTC) of plays, built by sparkify_monthly_listening
-- when every day of the month is in daily_listening: plays, listeners, the paid and free
-- share, the days with plays, the month's top song and artist.
CREATE TABLE IF NOT EXISTS monthly_listening (
    month_start DATE NOT NULL,
    plays INTEGER NOT NULL,
    listeners INTEGER NOT NULL,
    paid_plays INTEGER NOT NULL,
    free_plays INTEGER NOT NULL,
    paid_share DECIMAL(5, 4) NOT NULL,
    days_with_plays INTEGER NOT NULL,
    top_song_id VARCHAR(32),
    top_song_title VARCHAR(1024),
    top_song_plays INTEGER,
    top_artist_id VARCHAR(32),
    top_artist_name VARCHAR(1024),
    top_artist_plays INTEGER,
    PRIMARY KEY (month_start)
);
