-- Schema drift of this load (include/sparkify/staging/drift.py): one row per source key
-- that staging does not map (kind 'unknown') or that records lacked (kind 'missing'), with
-- the records it drifted in (a rerun's earlier rows are gone: drift_clear.sql). Parameters
-- in the SELECT list are cast: Redshift refuses a str parameter there (type "unknown").
INSERT INTO staging_drift (
    run_id, staging_table, key_name, kind, records, records_read, recorded_at
)
SELECT
    CAST({{ param("run_id") }} AS VARCHAR(250)) AS run_id,
    CAST({{ param("table") }} AS VARCHAR(64)) AS staging_table,
    drifted.key_name,
    drifted.kind,
    drifted.records,
    CAST({{ param("records_read") }} AS BIGINT) AS records_read,
    {{ now }} AS recorded_at
FROM (
    {% for i in range(rows | int) -%}
        {% if not loop.first %}UNION ALL{% endif %}
        SELECT
            CAST({{ param("key_%d" % i) }} AS VARCHAR(256)) AS key_name,
            CAST({{ param("kind_%d" % i) }} AS VARCHAR(16)) AS kind,
            CAST({{ param("records_%d" % i) }} AS BIGINT) AS records
    {% endfor %}
) AS drifted
