-- Row counts of every published run of final_project, per table, recorded by Publish:
-- the history the volume checks compare a run's rows with
-- (include/sql/checks/songplays_volume.sql). load_mode: interval or full.
CREATE TABLE IF NOT EXISTS load_volumes (
    run_id VARCHAR(250) NOT NULL,
    loaded_table VARCHAR(64) NOT NULL,
    load_mode VARCHAR(16) NOT NULL,
    interval_start TIMESTAMP,
    interval_end TIMESTAMP,
    rows_loaded BIGINT NOT NULL,
    published_at TIMESTAMP NOT NULL
);
