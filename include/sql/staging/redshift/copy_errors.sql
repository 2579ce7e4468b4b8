-- The lines the last COPY refused (counted against MAXERROR), as rejects. Redshift keeps no
-- raw text here; the reason names the column when there is one (column_name may be NULL).
SELECT
    TRIM(file_name) AS source_key,
    line_number,
    TRIM(error_message) || COALESCE(' (column ' || TRIM(column_name) || ')', '') AS reason,
    CAST(NULL AS VARCHAR(65535)) AS raw_text
FROM sys_load_error_detail
WHERE query_id = {{ param("query_id") }}
