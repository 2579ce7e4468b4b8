-- One row per artist_id. Artists repeat across songs with conflicting names and
-- locations; the row of the artist's song with the smallest song_id wins.
WITH ranked AS (
    SELECT
        artist_id,
        artist_name AS name,
        artist_location AS location,
        artist_latitude AS latitude,
        artist_longitude AS longitude,
        ROW_NUMBER() OVER (
            PARTITION BY artist_id
            ORDER BY song_id
        ) AS pick
    FROM staging_songs
    WHERE artist_id IS NOT NULL
)

SELECT
    artist_id,
    name,
    location,
    latitude,
    longitude
FROM ranked
WHERE pick = 1
