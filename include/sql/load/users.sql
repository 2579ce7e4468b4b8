-- Each user of the run's window as of their latest event there (ties on ts broken by
-- session and item), kept only if it is not older than the row already loaded:
-- rerunning or backfilling an old hour never rolls a user's level back.
{%- set w = run_window(dag_run) %}
WITH ranked AS (
    SELECT
        CAST(userid AS INTEGER) AS user_id,
        firstname AS first_name,
        lastname AS last_name,
        gender,
        level,
        TIMESTAMP 'epoch'
        + (ts / 1000) * INTERVAL '1 second'
        + (ts % 1000) * INTERVAL '1 millisecond' AS seen_at,
        ROW_NUMBER() OVER (
            PARTITION BY userid
            ORDER BY ts DESC, sessionid DESC, iteminsession DESC, level ASC
        ) AS recency
    FROM staging_events
    WHERE
        userid <> ''
        AND ts >= {{ w.start_ms }}
        AND ts < {{ w.end_ms }}
)

SELECT
    r.user_id,
    r.first_name,
    r.last_name,
    r.gender,
    r.level,
    r.seen_at AS last_seen_at
FROM ranked AS r
LEFT JOIN users AS u ON r.user_id = u.user_id
WHERE
    r.recency = 1
    AND (u.user_id IS NULL OR r.seen_at >= u.last_seen_at)
