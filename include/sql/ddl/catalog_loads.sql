-- Which staged song catalog (staging_manifest's fingerprint of staging_songs) songs and
-- artists were loaded from, per run: written with the run's audit rows, published_at set
-- when Publish applies them. An hourly run rewrites songs and artists only when the staged
-- catalog differs from the one of their last published load (include/sparkify/loads.py).
CREATE TABLE IF NOT EXISTS catalog_loads (
    run_id VARCHAR(250) NOT NULL,
    loaded_table VARCHAR(64) NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    written_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);
