-- Before an hourly load of the logs, for each partition it reads: drop the rows staged from
-- the partition's objects (one key, or every key under a prefix), and the rows of the
-- partition's hours a full load COPYed from the whole prefix (tagged with the prefix).
DELETE FROM {{ table }}
WHERE
    {% if prefix -%}
        LEFT(source_key, {{ param("key_length") }}) = {{ param("key") }}
    {%- else -%}
        source_key = {{ param("key") }}
    {%- endif %}
    OR (source_key = {{ param("prefix_tag") }} AND ts >= {{ param("start_ms") }} AND ts < {{ param("end_ms") }})
