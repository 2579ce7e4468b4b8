-- One row per song_id of the staged catalog.
WITH ranked AS (
    SELECT
        song_id,
        title,
        artist_id,
        year,
        duration,
        ROW_NUMBER() OVER (
            PARTITION BY song_id
            ORDER BY artist_id, title, duration
        ) AS pick
    FROM staging_songs
    WHERE song_id IS NOT NULL
)

SELECT
    song_id,
    title,
    artist_id,
    year,
    duration
FROM ranked
WHERE pick = 1
