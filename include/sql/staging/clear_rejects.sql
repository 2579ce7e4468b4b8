-- A rerun replaces its own rejects.
DELETE FROM staging_rejects
WHERE staging_table = {{ param("table") }} AND run_id = {{ param("run_id") }}
