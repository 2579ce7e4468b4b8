-- After a load: the staging table now holds these objects (one row per staging table).
DELETE FROM staging_manifest
WHERE staging_table = {{ param("table") }};

INSERT INTO staging_manifest (
    staging_table, fingerprint, objects, bytes, rows_staged, run_id, staged_at, checked_at
)
VALUES (
    {{ param("table") }},
    {{ param("fingerprint") }},
    {{ param("objects") }},
    {{ param("bytes") }},
    {{ param("rows_staged") }},
    {{ param("run_id") }},
    {{ now }},
    {{ now }}
)
