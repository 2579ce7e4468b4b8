-- Each distinct start_time of the run's songplays, broken into calendar units.
{%- set w = run_window(dag_run) %}
SELECT DISTINCT
    start_time,
    CAST(EXTRACT(HOUR FROM start_time) AS INTEGER) AS hour,
    CAST(EXTRACT(DAY FROM start_time) AS INTEGER) AS day,
    CAST(EXTRACT(WEEK FROM start_time) AS INTEGER) AS week,
    CAST(EXTRACT(MONTH FROM start_time) AS INTEGER) AS month,
    CAST(EXTRACT(YEAR FROM start_time) AS INTEGER) AS year,
    CAST(EXTRACT(DOW FROM start_time) AS INTEGER) AS weekday
FROM songplays
WHERE
    start_time >= {{ w.start_sql }}
    AND start_time < {{ w.end_sql }}
