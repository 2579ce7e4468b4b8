-- Before an interval load of the logs: drop the rows of the day file it restages, and the
-- rows of that day a full load COPYed from the prefix (tagged with the prefix, not a key).
DELETE FROM {{ table }}
WHERE
    source_key = {{ param("key") }}
    OR (source_key = {{ param("prefix_tag") }} AND ts >= {{ param("day_start") }} AND ts < {{ param("day_end") }})
