"""
### warehouse_checks — the published tables, checked whole, once a day

`final_project`'s checks read only the rows a run loads (its hour, or the song catalog when
it changed), so an hourly run costs the same with a month or a decade of songplays in the
warehouse. What those checks take for granted, that the published tables are sound, is
checked here, once a day, on the whole tables:

* every table holds rows, and has no NULL or duplicate key and no NULL where the schema
  needs a value (`SQLTableCheckOperator`, `SQLColumnCheckOperator`);
* every songplay's user is in `users` (`include/sql/checks/published_songplay_users_exist.sql`).

Every result is recorded in `dq_history`, like the hourly checks'. A failure alerts (the tasks'
failure callback) and publishes nothing: this DAG only reads. A full load checks the whole
tables too, as its audit covers every row it loads.

Runs at 00:30 UTC, after the midnight run of `final_project`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import CronTriggerTimetable, chain, dag

from include.sparkify import config, task_ids as ids
from include.sparkify.dag_defaults import DEFAULT_ARGS
from include.sparkify.loads import sql_macros
from include.sparkify.quality import whole_table_checks


@dag(
    dag_id=ids.WAREHOUSE_CHECKS_DAG,
    schedule=CronTriggerTimetable("30 0 * * *", timezone="UTC"),
    start_date=config.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(config.SQL_DIR)],
    user_defined_macros=sql_macros(),
    tags=["sparkify", "redshift", "data-quality", "daily"],
    doc_md=__doc__,
)
def warehouse_checks():
    begin = EmptyOperator(task_id=ids.BEGIN)
    checks = whole_table_checks(ids.WHOLE_TABLE_CHECKS)
    stop = EmptyOperator(task_id=ids.STOP)

    chain(begin, checks, stop)


warehouse_checks()
