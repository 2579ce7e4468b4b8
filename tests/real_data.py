"""The real Udacity data set loaded by the DAGs: the fixtures and helpers of the end-to-end
tests (tests/test_e2e_real_data.py, tests/test_write_audit_publish.py).

One full load per session (``full_load_state``); ``full_load`` gives each test the warehouse
that full load left, restored from a snapshot if an earlier test changed it. Expected
figures come from the JSON (tests/expected.py), never from the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests import expected as ex
from tests.conftest import warehouse

TABLES = ["songplays", "users", "songs", "artists", "time"]
AUDIT_TABLES = [f"audit_{t}" for t in TABLES]


@pytest.fixture(scope="session")
def source(real_bucket):
    events = ex.read_events(real_bucket)
    songs = ex.read_songs(real_bucket)
    assert len(songs) == 14896 and len(list((real_bucket / "log_data").rglob("*.json"))) == 30
    return events, songs


@pytest.fixture(scope="session")
def dags(airflow_db, stack):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag().dags


def run(dag, logical_date, conf: dict | None = None):
    from dev.dagtest import run_dag_test

    dr = run_dag_test(dag, logical_date, conf)
    failed = [ti.task_id for ti in dr.get_task_instances() if ti.state != "success"]
    assert dr.state == "success", f"{dag.dag_id} run {dr.run_id} failed: {failed}"
    return dr


def fetch(stack, sql):
    with warehouse(stack) as conn:
        return conn.execute(sql).fetchall()


def checksums(stack, tables=TABLES):
    """Row count and content checksum of each table."""
    with warehouse(stack) as conn:
        return {
            t: conn.execute(
                f"SELECT COUNT(*), MD5(STRING_AGG(MD5(CAST(x AS TEXT)), '' ORDER BY "
                f'MD5(CAST(x AS TEXT)))) FROM "{t}" AS x'
            ).fetchone()
            for t in tables
        }


def songplays_in_db(stack):
    rows = fetch(
        stack,
        "SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, "
        "user_agent FROM songplays",
    )
    keys = ["start_time", "user_id", "level", "song_id", "artist_id", "session_id", "location", "user_agent"]
    return {r[0]: dict(zip(keys, r[1:])) for r in rows}


def users_in_db(stack):
    rows = fetch(stack, "SELECT user_id, first_name, last_name, gender, level, last_seen_at FROM users")
    return {r[0]: dict(zip(["first_name", "last_name", "gender", "level", "last_seen_at"], r[1:])) for r in rows}


def time_in_db(stack):
    rows = fetch(stack, 'SELECT start_time, hour, day, week, month, year, weekday FROM "time"')
    return {r[0]: dict(zip(["hour", "day", "week", "month", "year", "weekday"], r[1:])) for r in rows}


STATE_TABLES = [
    *TABLES,
    "staging_events",
    "staging_songs",
    "staging_rejects",
    "load_volumes",
    "catalog_loads",
    *AUDIT_TABLES,
]


def warehouse_state(stack):
    """Checksums of every table a run writes, staging included."""
    return checksums(stack, STATE_TABLES)


def load_everything(dags, stack, restage_catalog: bool = True):
    """create_tables, then a full load into empty tables. With ``restage_catalog`` False the
    staged song catalog is kept (staging_songs and its manifest row): the full load lists the
    catalog, finds the objects it staged, and restages the events only."""
    run(dags["create_tables"], None)
    with warehouse(stack) as conn:  # whatever other tests left in the shared test warehouse
        staging = ["staging_events", "staging_rejects"]
        if restage_catalog:
            staging += ["staging_songs", "staging_manifest"]
        else:
            conn.execute("DELETE FROM staging_manifest WHERE staging_table <> 'staging_songs'")
        conn.execute(
            'TRUNCATE songplays, users, songs, artists, "time", load_volumes, catalog_loads, '
            + ", ".join([*staging, *AUDIT_TABLES])
        )
    dr = run(dags["final_project"], None)  # no logical date: no data interval -> full load
    assert dr.data_interval_start is None


SNAPSHOT = "e2e_full_load"  # a schema holding a copy of the tables a full load leaves
SNAPSHOT_TABLES = [*STATE_TABLES, "staging_manifest"]


def snapshot(stack) -> None:
    with warehouse(stack) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE")
        conn.execute(f"CREATE SCHEMA {SNAPSHOT}")
        for table in SNAPSHOT_TABLES:
            conn.execute(f'CREATE TABLE {SNAPSHOT}."{table}" AS SELECT * FROM public."{table}"')


def restore(stack) -> None:
    with warehouse(stack) as conn, conn.transaction():
        conn.execute("TRUNCATE " + ", ".join(f'public."{t}"' for t in SNAPSHOT_TABLES))
        for table in SNAPSHOT_TABLES:
            conn.execute(f'INSERT INTO public."{table}" SELECT * FROM {SNAPSHOT}."{table}"')


@pytest.fixture(scope="session")
def full_load_state(dags, stack, source):
    """The warehouse right after a full load (the state, for tests that change it to restore it)."""
    load_everything(dags, stack)
    snapshot(stack)
    return warehouse_state(stack)


@pytest.fixture
def full_load(full_load_state, dags, stack):
    """Each test starts from the warehouse a full load leaves, whatever ran before it: if an
    earlier test changed any table, the tables are restored from the copy taken right after
    the full load (the checksums prove it is the same state)."""
    if warehouse_state(stack) != full_load_state:
        restore(stack)
        assert warehouse_state(stack) == full_load_state


def real_bucket_path(stack):
    from tests.conftest import REAL_DATA

    return REAL_DATA


def hour_of(event: dict) -> datetime:
    return ex.start_time(event["ts"]).replace(minute=0, second=0, microsecond=0)


def hour_start_ms(hour: datetime) -> int:
    return int(hour.replace(tzinfo=UTC).timestamp() * 1000)


def window_events(events, hour: datetime) -> list[dict]:
    return [e for e in events if ex.in_window(e, hour_start_ms(hour), hour_start_ms(hour) + 3_600_000)]


def run_for_hour(dags, hour: datetime):
    """The hourly run whose data interval is [hour, hour + 1h)."""
    dr = run(dags["final_project"], (hour + timedelta(hours=1)).replace(tzinfo=UTC))
    assert (dr.data_interval_start, dr.data_interval_end) == (
        hour.replace(tzinfo=UTC),
        (hour + timedelta(hours=1)).replace(tzinfo=UTC),
    )
    return dr


def pick_hours(events):
    """The busiest hour, the first midnight with plays, and the first hour with no event at all."""
    per_hour = ex.nextsong_per_hour(events)
    busy = max(per_hour, key=lambda h: (per_hour[h], h))
    midnight = min(h for h in per_hour if h.hour == 0)
    any_event = {hour_of(e) for e in events}
    hour = datetime(2018, 11, 1)
    while hour in any_event:
        hour += timedelta(hours=1)
    return busy, midnight, hour


def rollback_hour(events) -> tuple[datetime, dict[int, str]]:
    """The first hour that, replayed on its own, would give users an older level: the hour
    and {user_id: the level of the user's latest event in that hour} for those users."""
    final = ex.users(events)
    by_hour: dict[datetime, list[dict]] = {}
    for e in events:
        if e["userId"]:
            by_hour.setdefault(hour_of(e), []).append(e)
    for hour in sorted(by_hour):
        older = {uid: u["level"] for uid, u in ex.users(by_hour[hour]).items() if u["level"] != final[uid]["level"]}
        if older:
            return hour, older
    raise AssertionError("no user changes level in the data")
