-- The checked records that fit, into the staging table; returns how many.
WITH staged AS (
    INSERT INTO {{ table }}
    SELECT (c.rec).*
    FROM checked_records AS c
    WHERE c.reject_reason IS NULL
    RETURNING 1
)

SELECT COUNT(*) AS staged FROM staged
