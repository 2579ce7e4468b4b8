-- Where the suspect records are spooled for check_records.sql: the objects, and the lines
-- (reason is set when the line could not even be carried as text, e.g. invalid UTF-8).
CREATE TEMP TABLE raw_objects (obj INTEGER, source_key TEXT) ON COMMIT DROP;

CREATE TEMP TABLE raw_lines (obj INTEGER, line INTEGER, reason TEXT, doc TEXT) ON COMMIT DROP
