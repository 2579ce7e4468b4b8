"""
### sparkify_analytics — the daily rollup: one day of listening figures, once all 24 hours are in

Scheduled by a **partitioned asset timetable** on `sparkify_songplays`. Every hourly run of
`final_project` publishes its hour as a partition of that asset (key `2018-11-01T13:00:00`,
UTC); a full load publishes every hour of the days it loaded. The rollup mapper
(`StartOfDayMapper` + `DayWindow`) collects the hours of each day, and the wait policy fires
**one run per day** once **all 24** are published (`WaitForAll`). A day with hours missing
does not fire. The run's partition key is the day (`2018-11-01`).

Each run rebuilds that day's row of `daily_listening` only (delete the day, insert it; a
rerun gives the same row): plays, distinct listeners, paid vs free plays and the paid share,
the listeners who are paid users now, the day's top song and top artist. Its asset event
carries the day as partition key, which `sparkify_monthly_listening` rolls up by month.

**Wait policy.** `SPARKIFY_DAILY_ROLLUP_MIN_HOURS` (default 24) below 24 fires a day early,
once that many hours are published (`MinimumCount`): a provisional row, rebuilt by the next
firing once the day completes (a day fires again when all its hours are published again).

Only published data reaches this DAG: `final_project` emits its assets from `Publish`,
after every data-quality check passed (write-audit-publish).

**Rebuild a day:** see `docs/operations.md` (*Rollups by partition*). A run triggered
without a partition key rebuilds every day.

SQL: `include/sql/analytics/daily_listening.sql` (table: `include/sql/ddl/daily_listening.sql`).
Query it with e.g. `make sql Q="select * from daily_listening order by play_date"`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DayWindow, PartitionedAssetTimetable, RollupMapper, StartOfDayMapper, chain, dag

from include.sparkify import config, task_ids as ids
from include.sparkify.analytics import build_rollup, daily_wait_policy
from include.sparkify.dag_defaults import DEFAULT_ARGS
from include.sparkify.loads import sql_macros


@dag(
    dag_id=ids.ANALYTICS_DAG,
    schedule=PartitionedAssetTimetable(
        assets=config.table_asset("songplays"),
        default_partition_mapper=RollupMapper(
            upstream_mapper=StartOfDayMapper(),  # reads 2018-11-01T13:00:00, gives 2018-11-01
            window=DayWindow(),  # the 24 hours of the day
            wait_policy=daily_wait_policy(),
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
def sparkify_analytics():
    begin = EmptyOperator(task_id=ids.BEGIN)
    daily_listening = build_rollup(ids.BUILD_DAILY_LISTENING, config.ANALYTICS_TABLE)
    stop = EmptyOperator(task_id=ids.STOP)

    chain(begin, daily_listening, stop)


sparkify_analytics()
