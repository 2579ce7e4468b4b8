"""Partitioned assets under the real scheduler: final_project publishes each hour as a
partition of the table assets, the daily rollup (sparkify_analytics) fires once per day
when all 24 hours of it are published, and its runs build that day's figures, which equal
the figures computed from the JSON.

The scheduler stack's sample covers two days (tests/conftest.py); its full load publishes
every hour of both. The 23-and-24 test takes a day outside the sample (2018-11-05): an
hourly run of a quiet day publishes its hour too. The backfill of hourly runs that publish
their hours is tests/test_scheduler.py's (and `make run`'s)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from include.sparkify.window import Window
from tests import expected as ex
from tests.conftest import UTC

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

    # The full load's songplays events name every hour it covered; the other tables have one
    # event each, naming the same hours in its extra (include/sparkify/publish.py).
    table_events = api.asset_events(source_dag_id="final_project", source_run_id=asset_triggered_run["dag_run_id"])
    hours = [k for day in days for k in Window.from_partition(day).hour_keys()]
    by_table: dict[str, list] = {}
    for event in table_events:
        by_table.setdefault(event["name"], []).append(event)
    assert set(by_table) == {f"sparkify_{t}" for t in ("songplays", "users", "songs", "artists", "time")}
    assert sorted(e["partition_key"] for e in by_table.pop("sparkify_songplays")) == hours
    summary = {"count": len(hours), "first": hours[0], "last": hours[-1]}
    assert {
        name: [(e["partition_key"], e["extra"]["partitions"]) for e in events] for name, events in by_table.items()
    } == {name: [(None, summary)] for name in by_table}

    # The month has a few of its 30 days: the monthly rollup waits.
    assert api.runs("sparkify_monthly_listening") == []


def test_23_hours_of_a_day_fire_no_rollup_and_the_24th_fires_exactly_one(
    scheduler_stack, scheduler_api, full_load_analytics
):
    """The day's first 23 hours are published by hand, as an operator marks an hour done:
    an asset event of sparkify_songplays with the hour as its partition key, through
    Airflow's REST API (POST /api/v2/assets/events, the same registration a task's outlet
    event goes through). The 24th is published by a real run of final_project for that hour
    (a manual run with the hour's end as its logical date). The rollup must fire once, after
    the 24th, with all 24 hours: had the scheduler fired on 23, that run would exist, with 23
    upstream events, by the time the 24th run (tens of scheduler loops later) publishes."""
    from dev.stack import wait_for

    stack, _ = scheduler_stack
    api = scheduler_api
    hours = Window.from_partition(QUIET_DAY).hour_keys()
    songplays = api.get("/api/v2/assets", name_pattern="sparkify_songplays")["assets"]
    assert [a["name"] for a in songplays] == ["sparkify_songplays"], songplays

    def rollups() -> list[dict]:
        return [r for r in api.runs("sparkify_analytics") if r["partition_key"] == QUIET_DAY]

    assert rollups() == []
    for key in hours[:23]:
        event = api.post(
            "/api/v2/assets/events",
            {"asset_id": songplays[0]["id"], "partition_key": key, "extra": {"published_by": "this test"}},
        )
        assert event["partition_key"] == key
    assert rollups() == []

    last_hour = datetime.strptime(hours[23], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    run = api.trigger("final_project", logical_date=(last_hour + timedelta(hours=1)).isoformat())

    def alive() -> None:
        dead = stack.dead_components()
        assert not dead, f"Airflow's {', '.join(dead)} stopped: see {stack.log_dir}/airflow-*.log"

    finished = api.wait_for_run(
        "final_project",
        lambda r: r["dag_run_id"] == run["dag_run_id"],
        timeout=600,
        progress=alive,
        what="the 24th hour's run",
    )
    assert finished["state"] == "success", finished
    assert (finished["data_interval_start"], finished["data_interval_end"]) == (
        f"{last_hour:%Y-%m-%dT%H:%M:%SZ}",
        f"{last_hour + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
    )

    fired = wait_for(lambda: [r for r in rollups() if r["state"] in ("success", "failed")], 300, "the day's rollup")
    assert [(r["partition_key"], r["state"]) for r in fired] == [(QUIET_DAY, "success")]
    upstream = api.upstream_asset_events("sparkify_analytics", fired[0]["dag_run_id"])
    assert sorted(e["partition_key"] for e in upstream) == hours
    by_hand = sorted(e["partition_key"] for e in upstream if e["extra"].get("published_by") == "this test")
    assert by_hand == hours[:23]
    assert [(e["partition_key"], e["source_run_id"]) for e in upstream if e["partition_key"] == hours[23]] == [
        (hours[23], run["dag_run_id"])
    ]
    assert len(rollups()) == 1  # exactly one
