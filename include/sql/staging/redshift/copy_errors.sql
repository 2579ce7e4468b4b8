-- The lines a COPY refused (counted against MAXERROR), as rejects. They are read into the
-- task and written back with parameters (reject_rows.sql): SYS views are system views, and
-- Redshift does not take every system view as the source of an INSERT into a user table.
-- Redshift keeps no raw text here; the reason names the column when there is one
-- (column_name may be NULL). https://docs.aws.amazon.com/redshift/latest/dg/SYS_LOAD_ERROR_DETAIL.html
SELECT
    TRIM(file_name) AS source_key,
    line_number,
    TRIM(error_message) || COALESCE(' (column ' || TRIM(column_name) || ')', '') AS reason
FROM sys_load_error_detail
WHERE query_id = {{ param("query_id") }}
ORDER BY file_name, line_number
