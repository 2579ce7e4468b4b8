-- The COPY this session just ran, as SYS_LOAD_HISTORY records it: its SYS query id (which
-- SYS_LOAD_ERROR_DETAIL uses; pg_last_copy_id() is an STL id, and STL views do not exist on
-- Redshift Serverless), the rows it loaded and the lines it refused (error_count). The
-- session's COPYs run one after another, so the latest of this session's is the one.
-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_HISTORY.html
SELECT
    query_id,
    loaded_rows,
    error_count,
    TRIM(data_source) AS data_source
FROM sys_load_history
WHERE session_id = PG_BACKEND_PID()
ORDER BY start_time DESC
LIMIT 1
