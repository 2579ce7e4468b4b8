-- How many refused lines SYS_LOAD_ERROR_DETAIL lists for a COPY (SYS query id).
SELECT COUNT(*) AS listed
FROM sys_load_error_detail
WHERE query_id = {{ param("query_id") }}
