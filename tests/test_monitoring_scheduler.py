"""Monitoring under the real scheduler (the shared scheduler stack): the full load's asset
events carry their metadata, every check of the run is in dq_history, the run's table assets
trigger sparkify_analytics, which builds daily_listening as the JSON says, and the lateness
deadline (6 s on this stack, see conftest) fires and runs its callback in the triggerer.

The analytics figures are those the full load's analytics run built, read by the
`full_load_analytics` fixture before any test that changes the tables (the backfill), so
these tests pass in any order."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from dev.airflow_api import AirflowAPI
from include.sparkify.loads import TABLES
from include.sparkify.quality import RELATIONAL_CHECKS, REQUIRED_STAGED, column_mapping
from tests import expected as ex
from tests.conftest import SCHEDULER_RUN_DEADLINE_MINUTES, warehouse

pytestmark = pytest.mark.scheduler


@pytest.fixture(scope="module")
def api(scheduler_stack):
    stack, _ = scheduler_stack
    return AirflowAPI(stack.api_url, "admin", stack.admin_password())


@pytest.fixture(scope="module")
def source(scheduler_stack):
    _, data = scheduler_stack
    events, songs = ex.read_events(data), ex.read_songs(data)
    return data, events, songs, ex.songplays(events, songs)


def test_asset_events_carry_rows_interval_and_sources(api, asset_triggered_run, source, scheduler_stack):
    data, events, songs, plays = source
    stack, _ = scheduler_stack
    run_id = asset_triggered_run["dag_run_id"]
    table_events = api.asset_events(source_dag_id="final_project", source_run_id=run_id)
    by_table = {e["extra"]["table"]: e for e in table_events}  # songplays: one per hour, the same extra
    assert set(by_table) == set(TABLES)
    assert all(e["extra"] == by_table[e["extra"]["table"]]["extra"] for e in table_events)

    # A full load into empty tables: nothing deleted, every expected row inserted.
    expected_rows = {
        "songplays": len(plays),
        "users": len(ex.users(events)),
        "songs": len(ex.songs_table(songs)),
        "artists": len(ex.artists_table(songs)),
        "time": len(ex.time_table(plays)),
    }
    for table, event in by_table.items():
        extra = event["extra"]
        assert event["name"] == f"sparkify_{table}" and event["uri"].endswith(f"/public/{table}")
        assert (extra["rows_inserted"], extra["rows_deleted"]) == (expected_rows[table], 0), table
        assert extra["load"] == "full" and extra["data_interval_start"] is None and extra["data_interval_end"] is None

    log_uris = sorted(
        f"s3://{stack.bucket}/{p.relative_to(data).as_posix()}" for p in (data / "log_data").rglob("*.json")
    )
    song_files = sorted((data / "song_data").rglob("*.json"))
    events_sources = by_table["users"]["extra"]["sources"]
    assert events_sources == log_uris
    assert by_table["time"]["extra"]["sources"] == log_uris
    songs_sources = by_table["songs"]["extra"]["sources"]
    listed = sorted(f"s3://{stack.bucket}/{p.relative_to(data).as_posix()}" for p in song_files)
    summary = (
        f"s3://{stack.bucket}/song_data/ ({len(song_files)} objects, {sum(p.stat().st_size for p in song_files)} bytes)"
    )
    assert songs_sources in (listed, [summary]), songs_sources
    assert by_table["artists"]["extra"]["sources"] == songs_sources
    assert by_table["songplays"]["extra"]["sources"] == log_uris + songs_sources


def test_every_check_of_the_run_is_in_the_dq_history(asset_triggered_run, source, scheduler_stack):
    _, _events, _songs, plays = source
    stack, _ = scheduler_stack
    run_id = asset_triggered_run["dag_run_id"]
    with warehouse(stack) as conn:
        rows = conn.execute(
            "SELECT task_id, check_name, table_name, column_name, observed_value, passed, "
            "interval_start, dag_id FROM dq_history WHERE run_id = %s",
            (run_id,),
        ).fetchall()
    # What the DAG declares: per table "not empty" and its key/column checks, then the relational checks.
    declared = {(f"{t}_not_empty", t) for t in TABLES}
    declared |= {(f"{col}.{check}", t) for t in TABLES for col, checks in column_mapping(t).items() for check in checks}
    declared |= {(f"{col}.null_check", t) for t, (_, columns) in REQUIRED_STAGED.items() for col in columns}
    declared |= set(RELATIONAL_CHECKS.items())
    assert sorted((r[1], r[2]) for r in rows) == sorted(declared)
    assert all(r[5] for r in rows) and all(r[6] is None and r[7] == "final_project" for r in rows)
    observed = {r[1]: r[4] for r in rows if r[3] is not None}
    assert set(observed.values()) == {"0"}  # no NULL, no duplicate key anywhere
    figures = {r[1]: r[4] for r in rows if r[1] in RELATIONAL_CHECKS}
    assert figures["songplay_users_exist"] == "songplays of the run without a user: 0"
    assert figures["songplays_match_staging"] == (
        f"songplays of the run: {len(plays)}, NextSong events in staging: {len(plays)}, outside the window: 0"
    )
    assert figures["songplays_volume"].startswith(
        f"songplays of the run: {len(plays)}, baseline: none over 0 earlier run(s)"
    )  # the first full load: no history to judge by
    assert figures["staged_events_duplicates"].startswith(
        f"NextSong events staged in the window: {len(plays)}, distinct: {len(plays)}"
    )


def test_a_late_run_fires_the_deadline_alert(api, asset_triggered_run, scheduler_stack):
    """The scheduler marks the run's deadline missed; the triggerer awaits the callback, which
    (no channel configured on this stack) logs the alert and reports it."""
    stack, _ = scheduler_stack
    run_id = asset_triggered_run["dag_run_id"]
    queued = asset_triggered_run["queued_at"]
    deadlines = api.get(f"/ui/dags/final_project/dagRuns/{quote(run_id, safe='')}/deadlines")["deadlines"]
    assert len(deadlines) == 1 and deadlines[0]["missed"] is True, deadlines
    assert deadlines[0]["alert_name"] == "run_late"
    allowed = float(SCHEDULER_RUN_DEADLINE_MINUTES)

    from datetime import datetime, timedelta

    def at(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))

    assert abs(at(deadlines[0]["deadline_time"]) - at(queued) - timedelta(minutes=allowed)) < timedelta(seconds=1)
    assert at(asset_triggered_run["end_date"]) > at(deadlines[0]["deadline_time"])  # it really was late

    import psycopg

    from dev.stack import wait_for

    def finished_callbacks():
        with psycopg.connect(stack.metadata_conninfo()) as conn:
            callbacks = conn.execute("SELECT state, output, data::text FROM callback").fetchall()
        ours = [c for c in callbacks if run_id in (c[2] or "") or run_id in (c[1] or "")]
        return ours if ours and all(c[0] in ("success", "failed") for c in ours) else None

    ours = wait_for(finished_callbacks, 180, "the deadline callback to finish", interval=3)
    assert len(ours) == 1 and ours[0][0] == "success", ours
    assert f"final_project run {run_id} is late: not finished {allowed:g} min after it was queued" in ours[0][1]
    assert "no alert channel configured (logged only)" in ours[0][1]
