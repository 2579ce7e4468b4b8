-- Staged rows that break one of the staging rules (staging.sources.RULES), as rejects. COPY
-- does not say which line a row came from: line 0, and the row's values as its text.
SELECT
    CAST({{ param("source_key") }} AS VARCHAR(1024)) AS source_key,
    0 AS line_number,
    CAST({{ param("reason") }} AS VARCHAR(1024)) AS reason,
    {{ row_text }} AS raw_text,
    CAST(NULL AS BIGINT) AS raw_bytes,
    CAST(NULL AS VARCHAR(64)) AS raw_sha256
FROM {{ table }}
WHERE {{ rule }}
