-- check: the run's songplays equal the distinct NextSong events of its window in
-- staging_events, and none lies outside the window (table songplays)
{%- set w = run_window(dag_run) %}
WITH loaded AS (
    SELECT
        COUNT(*) AS n,
        SUM(
            CASE
                WHEN start_time >= {{ w.start_sql }} AND start_time < {{ w.end_sql }} THEN 0 ELSE 1
            END
        ) AS outside
    FROM audit_songplays
    WHERE run_id = {{ sql_string(run_id) }}
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
    loaded.n = staged.n AND COALESCE(loaded.outside, 0) = 0 AS passed,
    'songplays of the run: ' || CAST(loaded.n AS VARCHAR)
    || ', NextSong events in staging: ' || CAST(staged.n AS VARCHAR)
    || ', outside the window: ' || CAST(COALESCE(loaded.outside, 0) AS VARCHAR) AS figures
FROM loaded CROSS JOIN staged
