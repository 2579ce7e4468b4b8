-- NextSong events of the run's window, one row per event (exact duplicates collapse),
-- matched to the catalog on title, artist name and duration. Unmatched plays keep
-- NULL song_id and artist_id. Columns in the order of the songplays table.
{%- set w = run_window(dag_run) %}
WITH plays AS (
    SELECT
        e.*,
        ROW_NUMBER() OVER (
            PARTITION BY e.userid, e.sessionid, e.iteminsession, e.ts
            ORDER BY e.song, e.artist, e.length, e.level
        ) AS copy_number
    FROM staging_events AS e
    WHERE
        e.page = 'NextSong'
        AND e.userid <> ''
        AND e.ts >= {{ w.start_ms }}
        AND e.ts < {{ w.end_ms }}
),

-- Only the catalog rows a play of the window can match: whole (title, artist_name,
-- duration) groups are kept or left out, so each group's pick is what it would be over
-- the whole catalog, and an hourly run does not rank the whole catalog. A join with the
-- plays' distinct keys, not a correlated EXISTS: Redshift rejects a correlation into a
-- subquery holding a window function, and plays holds one
-- (https://docs.aws.amazon.com/redshift/latest/dg/r_correlated_subqueries.html).
played AS (
    SELECT DISTINCT
        song,
        artist,
        length
    FROM plays
),

catalog AS (
    SELECT
        s.song_id,
        s.artist_id,
        s.title,
        s.artist_name,
        s.duration,
        ROW_NUMBER() OVER (
            PARTITION BY s.title, s.artist_name, s.duration
            ORDER BY s.song_id, s.artist_id
        ) AS pick
    FROM staging_songs AS s
    INNER JOIN played AS k
        ON
            s.title = k.song
            AND s.artist_name = k.artist
            AND s.duration = k.length
)

SELECT
    MD5(
        p.userid || '|' || CAST(p.sessionid AS VARCHAR) || '|'
        || CAST(p.iteminsession AS VARCHAR) || '|' || CAST(p.ts AS VARCHAR)
    ) AS songplay_id,
    TIMESTAMP 'epoch'
    + (p.ts / 1000) * INTERVAL '1 second'
    + (p.ts % 1000) * INTERVAL '1 millisecond' AS start_time,
    CAST(p.userid AS INTEGER) AS user_id,
    p.level,
    c.song_id,
    c.artist_id,
    p.sessionid AS session_id,
    p.location,
    p.useragent AS user_agent
FROM plays AS p
LEFT JOIN catalog AS c
    ON
        p.song = c.title
        AND p.artist = c.artist_name
        AND p.length = c.duration
        AND c.pick = 1
WHERE p.copy_number = 1
