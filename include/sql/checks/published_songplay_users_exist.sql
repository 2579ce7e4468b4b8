-- check: every published songplay has its user in users (table songplays). A whole-table
-- scan, run daily by warehouse_checks; a run's own plays are checked by
-- songplay_users_exist before they are published.
SELECT
    COUNT(*) = 0 AS passed,
    'published songplays without a user: ' || CAST(COUNT(*) AS VARCHAR) AS figures
FROM songplays AS s
LEFT JOIN users AS u ON s.user_id = u.user_id
WHERE u.user_id IS NULL
