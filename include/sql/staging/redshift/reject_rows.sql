-- Rejects given as parameters, one SELECT per row (a relation for insert_rejects.sql; Redshift
-- has no VALUES list outside INSERT). Each parameter is cast: a Python str would be sent as
-- type "unknown", which Redshift refuses in a SELECT list.
{% for i in range(rows | int) -%}
    {% if not loop.first %}UNION ALL{% endif %}
    SELECT
        CAST({{ param("key_%d" % i) }} AS VARCHAR(1024)) AS source_key,
        CAST({{ param("line_%d" % i) }} AS INTEGER) AS line_number,
        CAST({{ param("reason_%d" % i) }} AS VARCHAR(1024)) AS reason,
        CAST(NULL AS VARCHAR(65535)) AS raw_text,
        CAST(NULL AS BIGINT) AS raw_bytes,
        CAST(NULL AS VARCHAR(64)) AS raw_sha256
{% endfor %}
