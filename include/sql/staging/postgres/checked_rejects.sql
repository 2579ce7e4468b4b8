-- The checked records that do not fit, as rejects (for insert_rejects.sql).
SELECT
    source_key,
    line AS line_number,
    reject_reason AS reason,
    doc AS raw_text
FROM checked_records
WHERE reject_reason IS NOT NULL
