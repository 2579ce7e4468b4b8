"""
### sparkify_monthly_listening — the monthly rollup, chained on the daily one

Scheduled by a **partitioned asset timetable** on `sparkify_daily_listening`, whose events
carry the day they built as partition key (`2018-11-01`). The rollup mapper
(`StartOfMonthMapper` + `MonthWindow`) collects the days of each calendar month and fires
**one run per month** once **every day** of it is built (`WaitForAll`); the run's
partition key is the month (`2018-11`).

Each run rebuilds that month's row of `monthly_listening` only: plays, distinct listeners
(over the month, not a sum of days), paid vs free plays and the paid share, the days with
plays, the month's top song and top artist.

So the asset graph reads `final_project (hours) → sparkify_analytics (days) →
sparkify_monthly_listening (months)`.

SQL: `include/sql/analytics/monthly_listening.sql` (table: `include/sql/ddl/monthly_listening.sql`).
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import MonthWindow, PartitionedAssetTimetable, RollupMapper, StartOfMonthMapper, WaitForAll, chain, dag

from include.sparkify import config, task_ids as ids
from include.sparkify.analytics import build_rollup
from include.sparkify.dag_defaults import DEFAULT_ARGS
from include.sparkify.loads import sql_macros
from include.sparkify.window import DAY_KEY


@dag(
    dag_id=ids.MONTHLY_DAG,
    schedule=PartitionedAssetTimetable(
        assets=config.table_asset(config.ANALYTICS_TABLE),
        default_partition_mapper=RollupMapper(
            # the daily keys are dates: the default input format expects a time too
            upstream_mapper=StartOfMonthMapper(input_format=DAY_KEY),
            window=MonthWindow(),
            wait_policy=WaitForAll(),
        ),
    ),
    start_date=config.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(config.SQL_DIR)],
    user_defined_macros=sql_macros(),
    tags=["sparkify", "redshift", "analytics", "rollup"],
    doc_md=__doc__,
)
def sparkify_monthly_listening():
    begin = EmptyOperator(task_id=ids.BEGIN)
    monthly_listening = build_rollup(ids.BUILD_MONTHLY_LISTENING, config.MONTHLY_TABLE)
    stop = EmptyOperator(task_id=ids.STOP)

    chain(begin, monthly_listening, stop)


sparkify_monthly_listening()
