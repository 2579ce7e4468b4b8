-- What staging_manifest says of a staging table: the objects it last staged (their
-- fingerprint), the run that staged them, when they were last compared with the source.
SELECT
    fingerprint,
    run_id,
    checked_at,
    {{ now }} AS now
FROM staging_manifest
WHERE staging_table = {{ param("table") }}
