-- check: songplays in the run's window equal the distinct NextSong events of that
-- window in staging_events (table songplays)
{%- set w = run_window(dag_run) %}
WITH loaded AS (
    SELECT COUNT(*) AS n
    FROM songplays
    WHERE
        start_time >= {{ w.start_sql }}
        AND start_time < {{ w.end_sql }}
),

staged AS (
    SELECT COUNT(*) AS n
    FROM (
        SELECT DISTINCT
            userid,
            sessionid,
            iteminsession,
            ts
        FROM staging_events
        WHERE
            page = 'NextSong'
            AND userid <> ''
            AND ts >= {{ w.start_ms }}
            AND ts < {{ w.end_ms }}
    ) AS events
)

SELECT
    loaded.n = staged.n AS passed,
    'songplays in window: ' || CAST(loaded.n AS VARCHAR)
    || ', NextSong events in staging: ' || CAST(staged.n AS VARCHAR) AS figures
FROM loaded CROSS JOIN staged
