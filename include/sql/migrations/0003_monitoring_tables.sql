-- applied-if: SELECT COUNT(*) = 2 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name IN ('dq_history', 'daily_listening')
-- Monitoring (commit 5c3009d): the data-quality history and the analytics table.

-- Data-quality history: one row per check per try of every run, passed or failed
-- (written by the checks of Run_data_quality_checks). Query it for trends; see
-- include/sql/monitoring/ and docs/operations.md.
CREATE TABLE dq_history (
    checked_at TIMESTAMP NOT NULL,
    dag_id VARCHAR(250) NOT NULL,
    run_id VARCHAR(250) NOT NULL,
    task_id VARCHAR(250) NOT NULL,
    try_number INTEGER,
    check_name VARCHAR(256) NOT NULL,
    check_type VARCHAR(64),
    table_name VARCHAR(256),
    column_name VARCHAR(256),
    observed_value VARCHAR(4096),
    threshold VARCHAR(1024),
    passed BOOLEAN NOT NULL,
    interval_start TIMESTAMP,
    interval_end TIMESTAMP
);

-- Analytics: one row per UTC day of plays, built by sparkify_analytics from songplays
-- and users: plays, listeners, the paid and free share, the day's top song and artist.
CREATE TABLE daily_listening (
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
