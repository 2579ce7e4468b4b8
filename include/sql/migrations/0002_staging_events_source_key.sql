-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.columns WHERE table_schema = 'public'
--     AND table_name = 'staging_events' AND column_name = 'source_key'
-- staging_events.source_key (commit bf8be5c): the object each row came from, so an hourly
-- run replaces only its day file's rows and runs of different days can stage side by side.
-- Appended last: Redshift COPY maps the jsonpaths of log_json_path.json to the columns
-- before it by position. Rows staged before this migration keep a NULL source_key.
ALTER TABLE staging_events ADD COLUMN source_key VARCHAR(1024);
