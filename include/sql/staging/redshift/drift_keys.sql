-- How many records of the load carry each top-level key: the records loaded whole into
-- raw_records (COPY ... FORMAT JSON 'noshred', one SUPER value per record), their keys
-- listed by PartiQL's UNPIVOT, which keeps each key's case. Compared with the mapped keys
-- in drift.py. https://docs.aws.amazon.com/redshift/latest/dg/query-super.html#unpivoting
SELECT
    CAST(k AS VARCHAR(256)) AS key_name,
    COUNT(*) AS records
FROM raw_records AS r, UNPIVOT r.doc AS v AT k
GROUP BY k
