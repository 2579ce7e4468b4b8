-- applied-if: SELECT COUNT(*) = 2 FROM information_schema.columns WHERE table_schema = 'public'
--     AND table_name = 'staging_rejects' AND column_name IN ('raw_bytes', 'raw_sha256')
-- staging_rejects.raw_bytes and raw_sha256: a reject keeps only the first bytes of its
-- record in raw_text (a record can be any length), so the record's full byte length and
-- SHA-256 are kept beside it, to tell records apart and to find one in the source object.
-- Both NULL where the engine never sees the record (Redshift's COPY refuses lines itself)
-- and for rejects written before this migration.
ALTER TABLE staging_rejects ADD COLUMN raw_bytes BIGINT;

ALTER TABLE staging_rejects ADD COLUMN raw_sha256 VARCHAR(64);
