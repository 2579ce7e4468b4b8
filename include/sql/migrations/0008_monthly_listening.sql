-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name = 'monthly_listening'
-- The monthly rollup (sparkify_monthly_listening): one row per calendar month of plays.
-- A new table only.
CREATE TABLE monthly_listening (
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
