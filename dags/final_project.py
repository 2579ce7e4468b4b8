"""
### final_project — the hourly Sparkify ETL

Stages Sparkify's listening logs and song catalog from S3 into the warehouse, loads the
star schema and checks it.

**When it runs.** Every hour (`0 * * * *`, each run covering the hour before it), and
whenever `create_tables` emits the `sparkify_warehouse_schema` asset.

**What a run loads.**
* A scheduled or backfill run loads exactly its data interval `[start, end)`: it stages
  the log objects of its hours (`SPARKIFY_LOG_KEY_TEMPLATE`: by default the day file
  `log_data/YYYY/MM/YYYY-MM-DD-events.json`; hour partitions such as `log_data/%Y/%m/%d/%H/`
  work too) and of the `SPARKIFY_LATE_MINUTES` after them, and loads only the events whose
  `ts` falls in the interval. A missing partition stages zero rows with a warning.
* A run without a data interval (asset-triggered, or manual without a logical date) is a
  **full load** of everything under `log_data/` and `song_data/`.
* The song catalog is restaged only when its objects changed (or with `restage_songs`).
* Reruns never duplicate rows: songplays, users and time are upserted on their keys;
  songs and artists are rebuilt from the staged catalog, and only when it changed since
  they were last published (`catalog_loads`), so an hourly run's cost does not grow with
  the catalog. Every check reads only the run's rows; `warehouse_checks` checks the whole
  tables daily.

**Write, audit, publish.** The `Load_*` tasks write the run's rows into `audit_<table>`,
never into the tables analysts read. `Run_data_quality_checks` audits them: keys, users
present, the window reconciliation, the volume against the same hour's history, staged
duplicates and staged columns left NULL by a renamed source key. Only when every check
passed does `Publish` apply all five tables in one transaction, so a reader sees all of a
run or none of it. A failed check publishes nothing and keeps the audit rows for inspection
(`docs/operations.md`: inspect, fix, rerun or discard).

**Partitions.** An hourly run's table asset events name the hour it covers as their partition
key (`2018-11-01T13:00:00`, UTC): `Publish` adds them at run time
(`outlet_events[...].add_partitions`). A full load's `sparkify_songplays` event carries one
per hour of every day its plays span; the other tables' is a single event
(include/sparkify/publish.py says why). Runtime partitions, not a `CronPartitionTimetable`,
because the schedule stays what it was: hourly *or* on the schema asset, with a data
interval per run (a partition timetable's runs have none, and it cannot be combined with
the asset trigger). The daily rollup `sparkify_analytics` waits for all 24 hours of a day.

**Monitoring.** Each table's asset event, emitted by `Publish`, carries rows inserted/deleted,
the data interval and the source objects; every data-quality check result is recorded in `dq_history`; a
failed or retried task alerts by e-mail/Slack when configured (else a log line); a run not
finished `SPARKIFY_RUN_DEADLINE_MINUTES` after it was queued raises a deadline alert.
`sparkify_analytics` follows the `sparkify_songplays` asset, a day at a time. See `docs/operations.md`.

**Backfill** (a run's logical date is the end of its hour): `airflow backfill create --dag-id final_project
--from-date 2018-11-01T01:00:00+00:00 --to-date 2018-11-02T00:00:00+00:00`.

SQL: `include/sql/load/<table>.sql`, checks in `include/sql/checks/`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import (
    AssetOrTimeSchedule,
    AsyncCallback,
    CronTriggerTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    Variable,
    chain,
    dag,
    task,
)

from include.sparkify import config, task_ids as ids
from include.sparkify.alerts import alert_late_run
from include.sparkify.catalog import load_catalog_table
from include.sparkify.dag_defaults import DEFAULT_ARGS
from include.sparkify.loads import load_table, sql_macros
from include.sparkify.publish import publish
from include.sparkify.quality import quality_checks
from include.sparkify.window import Window


@dag(
    dag_id=ids.FINAL_PROJECT_DAG,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(config.SCHEDULE_CRON, timezone="UTC", interval=timedelta(hours=1)),
        assets=config.SCHEMA_READY,
    ),
    start_date=config.START_DATE,
    end_date=config.END_DATE,
    catchup=False,
    max_active_runs=1,  # scheduled runs in order; backfills may overlap safely (see README)
    default_args=DEFAULT_ARGS,
    deadline=DeadlineAlert(
        name="run_late",
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=config.RUN_DEADLINE_MINUTES),
        callback=AsyncCallback(alert_late_run, kwargs={"allowed_minutes": config.RUN_DEADLINE_MINUTES}),
    ),
    params={
        "restage_songs": Param(
            False, type="boolean", description="Restage the song catalog even if its objects did not change."
        ),
    },
    template_searchpath=[str(config.SQL_DIR)],
    user_defined_macros=sql_macros(),
    tags=["sparkify", "redshift", "etl", "hourly"],
    doc_md=__doc__,
)
def final_project():
    # multiple_outputs=False: a task returning a dict would push every key as an XCom of
    # its own besides the dict (13 for a staging result), each one a request to the API server.
    @task(task_id=ids.BEGIN, multiple_outputs=False)
    def begin_execution(dag_run=None) -> dict:
        """Decides what this run loads: its data interval, or everything (a full load)."""
        window = Window.from_run(dag_run)
        print(f"This run loads: {window.describe()}")
        return window.describe()

    @task(multiple_outputs=False)
    def stage(table: str, dag_run=None, run_id=None, params=None) -> dict:
        """Stages one source from S3 into its staging table (COPY on Redshift, streamed COPY on
        PostgreSQL) and reports the source keys staging does not map (schema drift)."""
        from airflow.sdk import get_current_context

        from include.sparkify.staging import SOURCES, drift, stage as stage_source

        result = stage_source(
            SOURCES[table],
            Window.from_run(dag_run),
            run_id=run_id,
            bucket=Variable.get(config.BUCKET_VARIABLE),
            force=table == "staging_songs" and bool(params["restage_songs"]),
        )
        drift.report(result, run_id, get_current_context())
        return result

    # Task ids (Stage_events, Load_songplays_fact_table, ...): include/sparkify/task_ids.py.
    begin = begin_execution()
    stage_events = stage.override(task_id=ids.STAGE_EVENTS)("staging_events")
    stage_songs = stage.override(task_id=ids.STAGE_SONGS)("staging_songs")

    songplays = load_table(ids.LOAD_TASKS["songplays"], "songplays")
    dimensions = [
        load_table(ids.LOAD_TASKS["users"], "users"),
        load_catalog_table(ids.LOAD_TASKS["songs"], "songs"),  # only when the song catalog changed
        load_catalog_table(ids.LOAD_TASKS["artists"], "artists"),
        load_table(ids.LOAD_TASKS["time"], "time"),
    ]
    checks = quality_checks(ids.QUALITY_CHECKS)
    published = publish(ids.PUBLISH)
    stop = EmptyOperator(task_id=ids.STOP)

    chain(begin, [stage_events, stage_songs], songplays, dimensions, checks, published, stop)


final_project()
