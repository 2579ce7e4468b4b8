-- The checked records that do not fit, as rejects (for insert_rejects.sql).
SELECT
    source_key,
    line AS line_number,
    reject_reason AS reason,
    LEFT(doc, 8192) AS raw_text,
    raw_bytes,
    raw_sha256
FROM checked_records
WHERE reject_reason IS NOT NULL
