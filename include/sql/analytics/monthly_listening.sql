-- One row per calendar month (UTC) of songplays, for the month of the run's partition
-- (every month without one): plays, distinct listeners, paid and free plays (the level
-- at play time) and the paid share, the days with plays, and the month's most played
-- song and artist (ties: smallest id). Columns in the order of the monthly_listening table.
{%- set w = rollup_window(dag_run) %}
WITH plays AS (
    SELECT
        sp.user_id,
        sp.level,
        sp.song_id,
        sp.artist_id,
        CAST(sp.start_time AS DATE) AS play_date,
        CAST(DATE_TRUNC('month', sp.start_time) AS DATE) AS month_start
    FROM songplays AS sp
    WHERE
        sp.start_time >= {{ w.start_sql }}
        AND sp.start_time < {{ w.end_sql }}
),

months AS (
    SELECT
        month_start,
        COUNT(*) AS plays,
        COUNT(DISTINCT user_id) AS listeners,
        SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_plays,
        SUM(CASE WHEN level = 'paid' THEN 0 ELSE 1 END) AS free_plays,
        COUNT(DISTINCT play_date) AS days_with_plays
    FROM plays
    GROUP BY month_start
),

song_counts AS (
    SELECT
        month_start,
        song_id,
        COUNT(*) AS plays,
        ROW_NUMBER() OVER (PARTITION BY month_start ORDER BY COUNT(*) DESC, song_id ASC) AS song_rank
    FROM plays
    WHERE song_id IS NOT NULL
    GROUP BY month_start, song_id
),

artist_counts AS (
    SELECT
        month_start,
        artist_id,
        COUNT(*) AS plays,
        ROW_NUMBER() OVER (PARTITION BY month_start ORDER BY COUNT(*) DESC, artist_id ASC) AS artist_rank
    FROM plays
    WHERE artist_id IS NOT NULL
    GROUP BY month_start, artist_id
)

SELECT
    m.month_start,
    m.plays,
    m.listeners,
    m.paid_plays,
    m.free_plays,
    CAST(ROUND(CAST(m.paid_plays AS DECIMAL(18, 4)) / m.plays, 4) AS DECIMAL(5, 4)) AS paid_share,
    m.days_with_plays,
    sc.song_id AS top_song_id,
    s.title AS top_song_title,
    sc.plays AS top_song_plays,
    ac.artist_id AS top_artist_id,
    a.name AS top_artist_name,
    ac.plays AS top_artist_plays
FROM months AS m
LEFT JOIN song_counts AS sc ON m.month_start = sc.month_start AND sc.song_rank = 1
LEFT JOIN songs AS s ON sc.song_id = s.song_id
LEFT JOIN artist_counts AS ac ON m.month_start = ac.month_start AND ac.artist_rank = 1
LEFT JOIN artists AS a ON ac.artist_id = a.artist_id
