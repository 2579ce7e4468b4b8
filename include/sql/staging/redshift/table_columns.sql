-- A staging table's columns in table order, as COPY's column list maps them. The schema is
-- named: information_schema.columns lists every schema's tables of that name.
SELECT column_name
FROM information_schema.columns
WHERE table_schema = CURRENT_SCHEMA() AND table_name = {{ param("table") }}
ORDER BY ordinal_position
