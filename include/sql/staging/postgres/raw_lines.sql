-- Where the suspect records are spooled for check_records.sql: the objects, and the lines
-- (reason is set when the line could not even be carried as text, e.g. invalid UTF-8, or is
-- too long; doc then holds its escaped start, raw_bytes and raw_sha256 the whole line's).
CREATE TEMP TABLE raw_objects (obj INTEGER, source_key TEXT) ON COMMIT DROP;

CREATE TEMP TABLE raw_lines (
    obj INTEGER, line INTEGER, reason TEXT, doc TEXT, raw_bytes BIGINT, raw_sha256 TEXT
) ON COMMIT DROP
