"""Partitioned assets under the real scheduler: final_project publishes each hour as a
partition of the table assets, the daily rollup (sparkify_analytics) fires once per day
when all 24 hours of it are published, and its runs build that day's figures, which equal
the figures computed from the JSON.

The scheduler stack's sample covers two days (tests/conftest.py); its full load publishes
every hour of both. The 23-and-24 test backfills a day outside the sample (2018-11-05):
hourly runs of a quiet day publish their hours too."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from include.sparkify.window import Window
from tests import expected as ex
from tests.conftest import UTC, warehouse

pytestmark = pytest.mark.scheduler

QUIET_DAY = "2018-11-05"


def test_a_full_load_fires_one_daily_rollup_per_day_with_the_figures_of_the_json(
    scheduler_stack, scheduler_api, asset_triggered_run, full_load_analytics
):
    _, data = scheduler_stack
    api = scheduler_api
    runs, days = full_load_analytics["runs"], full_load_analytics["days"]
    assert len(days) >= 2
    assert sorted(r["partition_key"] for r in runs) == days  # exactly one run per day
    assert all(r["state"] == "success" and r["run_type"] == "asset_triggered" for r in runs), runs

    events, songs = ex.read_events(data), ex.read_songs(data)
    expected = ex.daily_listening(events, songs)
    assert len(expected) >= 2 and any(v[6] for v in expected.values())  # days with matched plays
    assert {r[0]: tuple(r[1:]) for r in full_load_analytics["daily_listening"]} == expected

    for run in runs:
        day = run["partition_key"]
        upstream = api.upstream_asset_events("sparkify_analytics", run["dag_run_id"])
        # fired by the full load's songplays events of the day's 24 hours
        assert {(e["name"], e["source_run_id"]) for e in upstream} == {
            ("sparkify_songplays", asset_triggered_run["dag_run_id"])
        }
        assert sorted(e["partition_key"] for e in upstream) == Window.from_partition(day).hour_keys()
        emitted = api.asset_events(source_dag_id="sparkify_analytics", source_run_id=run["dag_run_id"])
        assert [(e["name"], e["partition_key"]) for e in emitted] == [("sparkify_daily_listening", day)]
        assert emitted[0]["extra"]["rows_inserted"] == (1 if day in map(str, expected) else 0)

    # Every table's events of the full load name the hours it covered.
    table_events = api.asset_events(source_dag_id="final_project", source_run_id=asset_triggered_run["dag_run_id"])
    hours = [k for day in days for k in Window.from_partition(day).hour_keys()]
    by_table: dict[str, list[str]] = {}
    for event in table_events:
        by_table.setdefault(event["name"], []).append(event["partition_key"])
    assert set(by_table) == {f"sparkify_{t}" for t in ("songplays", "users", "songs", "artists", "time")}
    assert all(sorted(keys) == hours for keys in by_table.values())

    # The month has 2 of its 30 days: the monthly rollup waits.
    assert api.runs("sparkify_monthly_listening") == []


def test_23_hours_of_a_day_fire_no_rollup_and_the_24th_fires_exactly_one(
    scheduler_stack, scheduler_api, full_load_analytics
):
    from dev.stack import wait_for

    stack, _ = scheduler_stack
    api = scheduler_api
    day = datetime.strptime(QUIET_DAY, "%Y-%m-%d").replace(tzinfo=UTC)

    def backfill(first_hour: datetime, last_hour: datetime) -> list[dict]:
        """Backfill final_project's runs of the hours [first_hour, last_hour] (logical date: the hour's end)."""
        created = api.create_backfill(
            "final_project",
            (first_hour + timedelta(hours=1)).isoformat(),
            (last_hour + timedelta(hours=1)).isoformat(),
            max_active_runs=4,
        )

        def finished() -> bool:
            dead = stack.dead_components()
            assert not dead, f"Airflow's {', '.join(dead)} stopped: see {stack.log_dir}/airflow-*.log"
            return bool(api.backfill(created["id"])["completed_at"])

        wait_for(finished, 900, "the backfill to complete", interval=3)
        wanted = {f"{h:%Y-%m-%dT%H:%M:%SZ}" for h in Window(first_hour, last_hour + timedelta(hours=1)).hour_starts()}
        runs = [r for r in api.runs("final_project", run_type="backfill") if r["logical_date"] in wanted]
        assert runs and all(r["state"] == "success" for r in runs), [(r["logical_date"], r["state"]) for r in runs]
        return runs

    def rollups() -> list[dict]:
        return [r for r in api.runs("sparkify_analytics") if r["partition_key"] == QUIET_DAY]

    assert len(backfill(day, day + timedelta(hours=22))) == 23
    # The scheduler has seen the 23 hours (their events are logged against the day) and fired nothing.
    with warehouse(stack) as conn:  # the warehouse part: the 23 hours are published
        published = conn.execute(
            "SELECT COUNT(*) FROM load_volumes WHERE loaded_table = 'songplays' AND interval_start >= %s "
            "AND interval_start < %s",
            (day.replace(tzinfo=None), (day + timedelta(days=1)).replace(tzinfo=None)),
        ).fetchone()[0]
    assert published == 23
    assert rollups() == []

    assert len(backfill(day + timedelta(hours=23), day + timedelta(hours=23))) == 1
    fired = wait_for(lambda: [r for r in rollups() if r["state"] in ("success", "failed")], 300, "the day's rollup")
    assert [(r["partition_key"], r["state"]) for r in fired] == [(QUIET_DAY, "success")]
    hours = sorted(e["partition_key"] for e in api.upstream_asset_events("sparkify_analytics", fired[0]["dag_run_id"]))
    assert hours == Window.from_partition(QUIET_DAY).hour_keys()
    assert len(rollups()) == 1  # exactly one
