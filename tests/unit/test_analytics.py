"""The analytics rollups (include/sparkify/analytics.py) without services: the rebuild of a
partition's rows, the wait policy of the daily rollup, and what the rollup DAGs are scheduled on."""

from __future__ import annotations

import pytest

from include.sparkify import config
from include.sparkify.analytics import ROLLUPS, build_rollup, daily_wait_policy, rollup_statements
from include.sparkify.loads import LoadMode


def test_a_rollup_replaces_the_rows_of_the_runs_partition_only():
    assert rollup_statements("daily_listening") == [
        'LOCK TABLE "daily_listening"',
        'DELETE FROM "daily_listening" WHERE play_date >= CAST({{ rollup_window(dag_run).start_sql }} AS DATE) '
        "AND play_date < CAST({{ rollup_window(dag_run).end_sql }} AS DATE)",
        "INSERT INTO \"daily_listening\"\n{% include 'analytics/daily_listening.sql' %}",
    ]
    assert "month_start >= CAST(" in rollup_statements("monthly_listening")[1]
    with pytest.raises(KeyError):
        rollup_statements("songplays")  # not a rollup


def test_the_rollup_task_counts_its_rows_and_emits_its_table():
    for table in ROLLUPS:
        task = build_rollup(f"Build_{table}", table)
        assert task.sql == rollup_statements(table)
        assert task.mode is LoadMode.TRUNCATE_INSERT and task.staged_from == ()  # deleted, then inserted
        assert task.outlets == [config.table_asset(table)]
        assert (config.SQL_DIR / "analytics" / f"{table}.sql").is_file()


def test_the_daily_rollup_waits_for_all_24_hours_unless_told_to_fire_early(monkeypatch):
    from airflow.sdk import MinimumCount, WaitForAll

    assert config.DAILY_ROLLUP_MIN_HOURS == 24 and isinstance(daily_wait_policy(), WaitForAll)
    monkeypatch.setattr(config, "DAILY_ROLLUP_MIN_HOURS", 20)
    policy = daily_wait_policy()
    assert isinstance(policy, MinimumCount) and policy.n == 20
    for bad in (0, 25):
        monkeypatch.setattr(config, "DAILY_ROLLUP_MIN_HOURS", bad)
        with pytest.raises(ValueError, match="1 to 24"):
            daily_wait_policy()


def test_a_days_24_hour_keys_satisfy_the_daily_mapper_and_23_do_not():
    """The keys Publish emits (window.HOUR_KEY) are the ones the daily rollup's mapper expects."""
    from airflow.partition_mappers.base import RollupMapper
    from airflow.partition_mappers.temporal import StartOfDayMapper
    from airflow.partition_mappers.wait_policy import WaitForAll
    from airflow.partition_mappers.window import DayWindow

    from include.sparkify.window import Window

    mapper = RollupMapper(upstream_mapper=StartOfDayMapper(), window=DayWindow(), wait_policy=WaitForAll())
    hours = Window.from_partition("2018-11-15").hour_keys()
    assert {mapper.to_downstream(k) for k in hours} == {"2018-11-15"}
    assert set(mapper.to_upstream("2018-11-15")) == set(hours)
    days = Window.from_partition("2018-11").hour_keys()
    assert len(days) == 720 and len({mapper.to_downstream(k) for k in days}) == 30
