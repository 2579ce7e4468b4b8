-- check: every songplay of the run has its user once the run is published, in users
-- or among the run's users (table songplays)
-- SQLCheckOperator passes when every value of the row is true; the second column
-- carries the figure found into the failure message.
SELECT
    COUNT(*) = 0 AS passed,
    'songplays of the run without a user: ' || CAST(COUNT(*) AS VARCHAR) AS figures
FROM audit_songplays AS s
LEFT JOIN users AS u ON s.user_id = u.user_id
LEFT JOIN audit_users AS a
    ON
        s.user_id = a.user_id
        AND a.run_id = {{ sql_string(run_id) }}
WHERE
    s.run_id = {{ sql_string(run_id) }}
    AND u.user_id IS NULL
    AND a.user_id IS NULL
