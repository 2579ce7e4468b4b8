-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.tables WHERE table_schema = 'public'
--     AND table_name = 'catalog_loads'
-- Which staged song catalog songs and artists were loaded from: a run rewrites them only
-- when the staged catalog changed since their last published load. A new table only.
CREATE TABLE catalog_loads (
    run_id VARCHAR(250) NOT NULL,
    loaded_table VARCHAR(64) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    written_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
