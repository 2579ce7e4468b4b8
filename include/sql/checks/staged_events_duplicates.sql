-- check: at most max_duplicate_fraction of the window's staged NextSong events repeat an
-- event already staged (same user, session, item and ts): a source delivered twice
-- (table staging_events)
{%- set w = run_window(dag_run) %}
WITH events AS (
    SELECT
        COUNT(*) AS staged,
        COUNT(
            DISTINCT userid || '|' || CAST(sessionid AS VARCHAR) || '|'
            || CAST(iteminsession AS VARCHAR) || '|' || CAST(ts AS VARCHAR)
        ) AS distinct_events
    FROM staging_events
    WHERE
        page = 'NextSong'
        AND userid <> ''
        AND ts >= {{ w.start_ms }}
        AND ts < {{ w.end_ms }}
)

SELECT
    staged - distinct_events <= staged * {{ params.max_duplicate_fraction | float }} AS passed,
    'NextSong events staged in the window: ' || CAST(staged AS VARCHAR)
    || ', distinct: ' || CAST(distinct_events AS VARCHAR)
    || ', largest repeated share: {{ params.max_duplicate_fraction | float }}' AS figures
FROM events
