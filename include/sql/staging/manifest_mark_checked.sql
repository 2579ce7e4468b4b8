-- The source was listed and found unchanged: note when, so hourly runs skip the listing.
UPDATE staging_manifest SET checked_at = {{ now }}
WHERE staging_table = {{ param("table") }}
