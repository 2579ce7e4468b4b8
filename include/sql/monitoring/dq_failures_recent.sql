-- The failed data-quality checks of the last 7 days, newest first: which run, which
-- data interval, the value found against the threshold.
SELECT
    checked_at,
    run_id,
    task_id,
    try_number,
    check_name,
    table_name,
    column_name,
    observed_value,
    threshold,
    interval_start,
    interval_end
FROM dq_history
WHERE
    NOT passed
    AND checked_at >= CURRENT_DATE - INTERVAL '7 days'
ORDER BY checked_at DESC
