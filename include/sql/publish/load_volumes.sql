-- The run's row counts per table, recorded as it publishes: the history the volume
-- checks compare later runs with (include/sql/checks/songplays_volume.sql).
{%- set w = run_window(dag_run) %}
INSERT INTO load_volumes (
    run_id, loaded_table, load_mode, interval_start, interval_end, rows_loaded, published_at
)
SELECT
    {{ sql_string(run_id) }} AS run_id,
    CAST(audited.loaded_table AS VARCHAR(64)) AS loaded_table,
    CAST('{{ "full" if w.full else "interval" }}' AS VARCHAR(16)) AS load_mode,
    {{ "CAST(NULL AS TIMESTAMP)" if w.full else w.start_sql }} AS interval_start,
    {{ "CAST(NULL AS TIMESTAMP)" if w.full else w.end_sql }} AS interval_end,
    audited.rows_loaded,
    {{ sql_now() }} AS published_at
FROM (
    SELECT
        'songplays' AS loaded_table,
        COUNT(*) AS rows_loaded
    FROM audit_songplays
    WHERE run_id = {{ sql_string(run_id) }}
    UNION ALL
    SELECT
        'users' AS loaded_table,
        COUNT(*) AS rows_loaded
    FROM audit_users
    WHERE run_id = {{ sql_string(run_id) }}
    UNION ALL
    SELECT
        'songs' AS loaded_table,
        COUNT(*) AS rows_loaded
    FROM audit_songs
    WHERE run_id = {{ sql_string(run_id) }}
    UNION ALL
    SELECT
        'artists' AS loaded_table,
        COUNT(*) AS rows_loaded
    FROM audit_artists
    WHERE run_id = {{ sql_string(run_id) }}
    UNION ALL
    SELECT
        'time' AS loaded_table,
        COUNT(*) AS rows_loaded
    FROM audit_time
    WHERE run_id = {{ sql_string(run_id) }}
) AS audited
