-- The first rejects of a run, for the task log and the reject-threshold error.
SELECT
    source_key,
    line_number,
    reason
FROM staging_rejects
WHERE staging_table = {{ param("table") }} AND run_id = {{ param("run_id") }}
ORDER BY source_key, line_number
LIMIT {{ limit }}
