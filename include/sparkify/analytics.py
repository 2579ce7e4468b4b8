"""The analytics rollups, built from the published star schema by partition: a day of
``daily_listening`` when all 24 hours of the day are published, a month of
``monthly_listening`` when every day of the month is built.

Each rollup is a SELECT in include/sql/analytics/<table>.sql over the rows of the run's
partition (``Window.for_rollup``: a day, a month; a run without a partition key covers
every day). Its build replaces exactly that partition's rows in one transaction (lock,
DELETE the partition, INSERT), so a rerun or a rebuild of a day never touches another,
and the table's asset event carries the row counts and, from the run, the partition key.

The schedules (``PartitionedAssetTimetable`` with a ``RollupMapper``) are in the DAG files;
``daily_wait_policy`` is the one setting they share with the environment."""

from __future__ import annotations

from include.sparkify import config
from include.sparkify.loads import LoadMode, TableLoadOperator, quote, table_lock

# Each rollup table and its date column (the first day of the row's period).
ROLLUPS = {config.ANALYTICS_TABLE: "play_date", config.MONTHLY_TABLE: "month_start"}


def rollup_statements(table: str) -> list[str]:
    """Replace the run's partition of ``table``: lock, delete its rows, insert the SELECT."""
    target, column = quote(table), ROLLUPS[table]
    bounds = (
        f"{column} >= CAST({{{{ rollup_window(dag_run).start_sql }}}} AS DATE) "
        f"AND {column} < CAST({{{{ rollup_window(dag_run).end_sql }}}} AS DATE)"
    )
    return [
        table_lock(target),
        f"DELETE FROM {target} WHERE {bounds}",
        f"INSERT INTO {target}\n{{% include 'analytics/{table}.sql' %}}",
    ]


def build_rollup(task_id: str, table: str, **kwargs) -> TableLoadOperator:
    """A task that rebuilds the run's partition of the rollup ``table`` and emits its asset."""
    return TableLoadOperator(
        task_id=task_id,
        table=table,
        mode=LoadMode.TRUNCATE_INSERT,  # of the partition: delete its rows, insert them anew
        sql=rollup_statements(table),
        doc_md=f"Rebuilds the run's partition of `{table}` from `include/sql/analytics/{table}.sql`.",
        **kwargs,
    )


def daily_wait_policy():
    """When a day's rollup fires: all 24 hours published (``WaitForAll``), or, with
    SPARKIFY_DAILY_ROLLUP_MIN_HOURS below 24, as soon as that many are (``MinimumCount``)."""
    from airflow.sdk import MinimumCount, WaitForAll

    hours = config.DAILY_ROLLUP_MIN_HOURS
    if not 1 <= hours <= 24:
        raise ValueError(f"SPARKIFY_DAILY_ROLLUP_MIN_HOURS must be 1 to 24, not {hours}")
    return WaitForAll() if hours == 24 else MinimumCount(hours)
