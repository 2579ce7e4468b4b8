-- check: source records rejected while staging this run (table staging_rejects)
-- Reports the figure in the task log; the reject threshold itself is enforced by the
-- staging tasks (SPARKIFY_MAX_REJECT_FRACTION). This run = the last events staging.
WITH this_run AS (
    SELECT run_id FROM staging_manifest
    WHERE staging_table = 'staging_events'
)

SELECT
    TRUE AS passed,
    'rejected records in this run: ' || CAST(COUNT(r.run_id) AS VARCHAR) AS figures
FROM this_run AS t
LEFT JOIN staging_rejects AS r ON t.run_id = r.run_id
