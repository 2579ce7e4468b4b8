"""The ids of the Sparkify DAGs and of the tasks that other code refers to, defined once.

The DAG files name their tasks with these, and the library uses the same names where one
task reads another's result: a table load pulls the staging results of ``Stage_events`` and
``Stage_songs`` (XCom), the report of `make run` reads the checks of a run by their ids.
A task renamed here is renamed everywhere; a name typed twice could drift and make an XCom
pull find nothing, silently. The names are the project's original ones (``Stage_events``,
``Load_songplays_fact_table``, ...): the UI, the logs and the operations guide use them.

Standard library only: dev/ tools import it too.
"""

from __future__ import annotations

# DAG ids
CREATE_TABLES_DAG = "create_tables"
FINAL_PROJECT_DAG = "final_project"
ANALYTICS_DAG = "sparkify_analytics"  # the daily rollup
MONTHLY_DAG = "sparkify_monthly_listening"  # the monthly rollup
WAREHOUSE_CHECKS_DAG = "warehouse_checks"  # the daily whole-table checks

# Every DAG starts and ends with these.
BEGIN = "Begin_execution"
STOP = "Stop_execution"

# create_tables
CREATE_TABLES = "Create_tables"

# final_project: the staging task of each staging table, the load task of each table, the
# data-quality task group (its checks are "Run_data_quality_checks.<check>").
STAGE_EVENTS = "Stage_events"
STAGE_SONGS = "Stage_songs"
STAGING_TASKS = {"staging_events": STAGE_EVENTS, "staging_songs": STAGE_SONGS}
LOAD_TASKS = {
    "songplays": "Load_songplays_fact_table",
    "users": "Load_user_dim_table",
    "songs": "Load_song_dim_table",
    "artists": "Load_artist_dim_table",
    "time": "Load_time_dim_table",
}
QUALITY_CHECKS = "Run_data_quality_checks"
# Applies the audited rows of a run to the published tables (write-audit-publish).
PUBLISH = "Publish"

# warehouse_checks: its task group of whole-table checks
WHOLE_TABLE_CHECKS = "Check_published_tables"

# the rollups
BUILD_DAILY_LISTENING = "Build_daily_listening"
BUILD_MONTHLY_LISTENING = "Build_monthly_listening"
