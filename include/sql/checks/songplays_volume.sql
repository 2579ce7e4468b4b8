-- check: the run's songplays are in proportion to history: an hourly run's within
-- [volume_min_ratio, volume_max_ratio] x the mean of the same hour of day in the published
-- runs of the last volume_history_days days; a full load's at least volume_min_ratio x
-- the last published full load. No verdict while history is too thin (fewer runs than
-- volume_min_history_runs, or a baseline under volume_min_baseline rows) (table songplays)
{%- set w = run_window(dag_run) %}
{%- set p = params %}
{%- set full = "TRUE" if w.full else "FALSE" %}
{%- set hour = 0 if w.full else w.start.hour %}
{%- set min_runs = 1 if w.full else p.volume_min_history_runs | int %}
{%- set max_ratio = 1000000000.0 if w.full else p.volume_max_ratio | float %}
WITH this_run AS (
    SELECT COUNT(*) AS n
    FROM audit_songplays
    WHERE run_id = {{ sql_string(run_id) }}
),

published AS (
    SELECT
        run_id,
        load_mode,
        interval_start,
        rows_loaded,
        published_at
    FROM load_volumes
    WHERE
        loaded_table = 'songplays'
        AND run_id <> {{ sql_string(run_id) }}
),

history AS (
    SELECT
        COUNT(*) AS runs,
        AVG(CAST(v.rows_loaded AS DOUBLE PRECISION)) AS baseline
    FROM published AS v
    WHERE
        (
            {{ full }}
            AND v.load_mode = 'full'
            AND v.published_at = (
                SELECT MAX(f.published_at) FROM published AS f
                WHERE f.load_mode = 'full'
            )
        )
        OR (
            NOT {{ full }}
            AND v.load_mode = 'interval'
            AND EXTRACT(HOUR FROM v.interval_start) = {{ hour }}
            AND v.interval_start < {{ w.start_sql }}
            AND v.interval_start >= {{ w.start_sql }} - INTERVAL '{{ p.volume_history_days | int }} days'
        )
)

SELECT
    CASE
        WHEN
            h.runs < {{ min_runs }} OR h.baseline IS NULL OR h.baseline < {{ p.volume_min_baseline | float }}
            THEN TRUE
        ELSE
            t.n >= h.baseline * {{ p.volume_min_ratio | float }}
            AND t.n <= h.baseline * {{ max_ratio }}
    END AS passed,
    'songplays of the run: ' || CAST(t.n AS VARCHAR)
    || ', baseline: ' || COALESCE(CAST(CAST(h.baseline AS DECIMAL(18, 1)) AS VARCHAR), 'none')
    || ' over ' || CAST(h.runs AS VARCHAR) || ' earlier run(s)'
    || ', bounds: {{ p.volume_min_ratio | float }} to {{ max_ratio }} x a baseline of at least '
    || '{{ p.volume_min_baseline | float }} rows over {{ min_runs }} run(s)' AS figures
FROM this_run AS t CROSS JOIN history AS h
