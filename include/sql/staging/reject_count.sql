-- How many records of a staging table a run rejected.
SELECT COUNT(*) AS rejected
FROM staging_rejects
WHERE staging_table = {{ param("table") }} AND run_id = {{ param("run_id") }}
