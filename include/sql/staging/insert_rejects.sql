-- Records that could not be staged, with why: the one statement that writes staging_rejects.
-- The relation `rejects` is one of (source_key, line_number, reason, raw_text, raw_bytes,
-- raw_sha256) built by the engine. Reason and text are cut to what their columns hold.
-- The parameters are cast: redshift_connector sends a Python str as type "unknown", which
-- Redshift refuses in a SELECT list (aws/amazon-redshift-python-driver issue 59).
INSERT INTO staging_rejects (
    staging_table, source_key, line_number, reason, raw_text, run_id, rejected_at, raw_bytes, raw_sha256
)
SELECT
    CAST({{ param("table") }} AS VARCHAR(64)) AS staging_table,
    r.source_key,
    r.line_number,
    LEFT(r.reason, 1000) AS reason,
    LEFT(r.raw_text, 16000) AS raw_text,
    CAST({{ param("run_id") }} AS VARCHAR(256)) AS run_id,
    {{ now }} AS rejected_at,
    r.raw_bytes,
    r.raw_sha256
FROM {{ rejects }} AS r
