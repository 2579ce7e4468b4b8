-- Data-quality trend per check: how often it ran, passed and failed, the last value found
-- and when it last failed. `make run` prints this; see docs/operations.md for more queries.
WITH ranked AS (
    SELECT
        check_name,
        table_name,
        observed_value,
        threshold,
        passed,
        checked_at,
        ROW_NUMBER() OVER (PARTITION BY check_name, table_name ORDER BY checked_at DESC) AS recency
    FROM dq_history
)

SELECT
    check_name,
    table_name,
    COUNT(*) AS results,
    SUM(CASE WHEN passed THEN 1 ELSE 0 END) AS passed_count,
    SUM(CASE WHEN passed THEN 0 ELSE 1 END) AS failed_count,
    MAX(CASE WHEN recency = 1 THEN observed_value END) AS latest_value,
    MAX(CASE WHEN recency = 1 THEN threshold END) AS threshold,
    MAX(CASE WHEN NOT passed THEN checked_at END) AS last_failed_at
FROM ranked
GROUP BY check_name, table_name
ORDER BY table_name, check_name
