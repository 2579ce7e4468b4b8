"""
### sparkify_analytics — daily listening figures, downstream of final_project

Runs whenever `final_project` has updated **both** the `sparkify_songplays` and the
`sparkify_users` assets (every run of it loads both). It waits until the triggering
`final_project` run has passed its data-quality checks (fails if they failed), then
rebuilds `daily_listening`:
one row per day with the plays, distinct listeners, paid vs free plays and the paid
share, and the day's top song and top artist. On success it emits the
`sparkify_daily_listening` asset, so the asset graph reads
`create_tables → final_project → sparkify_analytics`.

SQL: `include/sql/analytics/daily_listening.sql` (table: `include/sql/ddl/daily_listening.sql`).
Query it with e.g. `make sql Q="select * from daily_listening order by play_date"`.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import chain, dag, task

from include.sparkify import config, task_ids as ids
from include.sparkify.analytics import build_table, quality_gate_passed
from include.sparkify.dag_defaults import DEFAULT_ARGS


@dag(
    dag_id=ids.ANALYTICS_DAG,
    schedule=config.table_asset("songplays") & config.table_asset("users"),
    start_date=config.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(config.SQL_DIR)],
    tags=["sparkify", "redshift", "analytics"],
    doc_md=__doc__,
)
def sparkify_analytics():
    @task.sensor(task_id=ids.WAIT_FOR_QUALITY_CHECKS, poke_interval=10, timeout=3600, mode="reschedule")
    def wait_for_quality_checks(ti=None, triggering_asset_events=None) -> bool:
        """Succeeds when the final_project runs behind this run's asset events passed their checks."""
        return quality_gate_passed(ti, triggering_asset_events)

    begin = EmptyOperator(task_id=ids.BEGIN)
    checked = wait_for_quality_checks()
    daily_listening = build_table(ids.BUILD_DAILY_LISTENING, config.ANALYTICS_TABLE)
    stop = EmptyOperator(task_id=ids.STOP)

    chain(begin, checked, daily_listening, stop)


sparkify_analytics()
