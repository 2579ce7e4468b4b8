-- A staging table's columns in table order with their full types (e.g. character
-- varying(256)): the fast path's checks and the COPY binary types follow from them.
SELECT
    a.attname AS column_name,
    FORMAT_TYPE(a.atttypid, a.atttypmod) AS column_type
FROM pg_attribute AS a
WHERE a.attrelid = {{ param("table") }}::REGCLASS AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
