-- check: every songplay's user exists in users (table songplays)
-- SQLCheckOperator passes when every value of the row is true; the second column
-- carries the figure found into the failure message.
SELECT
    COUNT(*) = 0 AS passed,
    'songplays without a user: ' || CAST(COUNT(*) AS VARCHAR) AS figures
FROM songplays AS s
LEFT JOIN users AS u ON s.user_id = u.user_id
WHERE u.user_id IS NULL
