-- Each distinct start_time of the run's songplays (their audit rows: the run's own
-- songplays, not yet published), broken into calendar units.
SELECT DISTINCT
    start_time,
    CAST(EXTRACT(HOUR FROM start_time) AS INTEGER) AS hour,
    CAST(EXTRACT(DAY FROM start_time) AS INTEGER) AS day,
    CAST(EXTRACT(WEEK FROM start_time) AS INTEGER) AS week,
    CAST(EXTRACT(MONTH FROM start_time) AS INTEGER) AS month,
    CAST(EXTRACT(YEAR FROM start_time) AS INTEGER) AS year,
    CAST(EXTRACT(DOW FROM start_time) AS INTEGER) AS weekday
FROM audit_songplays
WHERE run_id = {{ sql_string(run_id) }}
