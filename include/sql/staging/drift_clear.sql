-- A rerun replaces its own schema-drift rows (drift_record.sql).
DELETE FROM staging_drift
WHERE staging_table = {{ param("table") }} AND run_id = {{ param("run_id") }}
