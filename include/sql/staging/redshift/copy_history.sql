-- The COPY this session just ran, as SYS_LOAD_HISTORY records it: its SYS query id (which
-- SYS_LOAD_ERROR_DETAIL uses; pg_last_copy_id() is an STL id, and STL views do not exist on
-- Redshift Serverless), the rows it loaded and the lines it refused (error_count). The
-- session's COPYs run one after another, so the latest of this session's is the one, once
-- recorded; the view may lag the COPY (redshift.py reads it again until it has the row).
-- Two conditions keep an earlier row out while this one lags:
-- * the view keeps running COPYs too, with statistics still accumulating: completed only.
-- * a session id is a process id, which a later session may reuse
--   (https://docs.aws.amazon.com/redshift/latest/dg/PG_BACKEND_PID.html): only COPYs that
--   started in this transaction, whose start SYSDATE gives (r_SYSDATE.html; both in UTC,
--   the session's time zone: session.sql).
-- https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_HISTORY.html
SELECT
    query_id,
    loaded_rows,
    error_count,
    TRIM(data_source) AS data_source
FROM sys_load_history
WHERE
    session_id = PG_BACKEND_PID()
    AND status = 'completed'
    AND start_time >= SYSDATE
ORDER BY start_time DESC
LIMIT 1
