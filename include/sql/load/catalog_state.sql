-- A catalog table's write (songs or artists, set by the including statement as
-- catalog_table) runs only when the song catalog staged now is not the one its last
-- published load read: the staged catalog's fingerprint, the last published one and
-- the run that published it.
WITH last_published AS (
    SELECT
        fingerprint,
        run_id,
        ROW_NUMBER() OVER (ORDER BY published_at DESC, run_id DESC) AS recency
    FROM catalog_loads
    WHERE
        loaded_table = '{{ catalog_table }}'
        AND published_at IS NOT NULL
)

SELECT
    staged.fingerprint AS staged_fingerprint,
    published.fingerprint AS published_fingerprint,
    published.run_id AS published_by
FROM staging_manifest AS staged
LEFT JOIN last_published AS published ON published.recency = 1
WHERE staged.staging_table = 'staging_songs'
