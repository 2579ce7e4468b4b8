-- One row per UTC day of songplays, for the day of the run's partition (every day without
-- one): plays, distinct listeners, paid and free plays (the
-- level at play time) and the paid share, how many of the day's listeners are paid users
-- now (users), and the day's most played song and artist (ties: smallest id). Plays that
-- matched no catalog song count in the totals but not for the top song or artist.
-- Columns in the order of the daily_listening table.
{%- set w = rollup_window(dag_run) %}
WITH plays AS (
    SELECT
        sp.user_id,
        sp.level,
        sp.song_id,
        sp.artist_id,
        CAST(sp.start_time AS DATE) AS play_date
    FROM songplays AS sp
    WHERE
        sp.start_time >= {{ w.start_sql }}
        AND sp.start_time < {{ w.end_sql }}
),

days AS (
    SELECT
        play_date,
        COUNT(*) AS plays,
        COUNT(DISTINCT user_id) AS listeners,
        SUM(CASE WHEN level = 'paid' THEN 1 ELSE 0 END) AS paid_plays,
        SUM(CASE WHEN level = 'paid' THEN 0 ELSE 1 END) AS free_plays
    FROM plays
    GROUP BY play_date
),

paid_now AS (
    SELECT
        p.play_date,
        COUNT(DISTINCT p.user_id) AS paid_listeners_now
    FROM plays AS p
    INNER JOIN users AS u ON p.user_id = u.user_id
    WHERE u.level = 'paid'
    GROUP BY p.play_date
),

song_counts AS (
    SELECT
        play_date,
        song_id,
        COUNT(*) AS plays,
        ROW_NUMBER() OVER (PARTITION BY play_date ORDER BY COUNT(*) DESC, song_id ASC) AS song_rank
    FROM plays
    WHERE song_id IS NOT NULL
    GROUP BY play_date, song_id
),

artist_counts AS (
    SELECT
        play_date,
        artist_id,
        COUNT(*) AS plays,
        ROW_NUMBER() OVER (PARTITION BY play_date ORDER BY COUNT(*) DESC, artist_id ASC) AS artist_rank
    FROM plays
    WHERE artist_id IS NOT NULL
    GROUP BY play_date, artist_id
)

SELECT
    d.play_date,
    d.plays,
    d.listeners,
    d.paid_plays,
    d.free_plays,
    CAST(ROUND(CAST(d.paid_plays AS DECIMAL(18, 4)) / d.plays, 4) AS DECIMAL(5, 4)) AS paid_share,
    COALESCE(pn.paid_listeners_now, 0) AS paid_listeners_now,
    sc.song_id AS top_song_id,
    s.title AS top_song_title,
    sc.plays AS top_song_plays,
    ac.artist_id AS top_artist_id,
    a.name AS top_artist_name,
    ac.plays AS top_artist_plays
FROM days AS d
LEFT JOIN paid_now AS pn ON d.play_date = pn.play_date
LEFT JOIN song_counts AS sc ON d.play_date = sc.play_date AND sc.song_rank = 1
LEFT JOIN songs AS s ON sc.song_id = s.song_id
LEFT JOIN artist_counts AS ac ON d.play_date = ac.play_date AND ac.artist_rank = 1
LEFT JOIN artists AS a ON ac.artist_id = a.artist_id
