"""End to end on the real Udacity data set (30 log files, the full 14,896-song catalog):
create_tables, the full load, then hourly runs, each compared with what the JSON says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dev.dagtest import run_dag_test
from tests import expected as ex
from tests.conftest import warehouse

pytestmark = pytest.mark.e2e
UTC = timezone.utc
TABLES = ["songplays", "users", "songs", "artists", "time"]


@pytest.fixture(scope="module")
def source(real_bucket):
    events = ex.read_events(real_bucket)
    songs = ex.read_songs(real_bucket)
    assert len(songs) == 14896 and len(list((real_bucket / "log_data").rglob("*.json"))) == 30
    return events, songs


@pytest.fixture(scope="module")
def dags(airflow_db, stack):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag().dags


def run(dag, logical_date):
    dr = run_dag_test(dag, logical_date)
    failed = [ti.task_id for ti in dr.get_task_instances() if ti.state != "success"]
    assert dr.state == "success", f"{dag.dag_id} run {dr.run_id} failed: {failed}"
    return dr


def fetch(stack, sql):
    with warehouse(stack) as conn:
        return conn.execute(sql).fetchall()


def checksums(stack):
    with warehouse(stack) as conn:
        return {t: conn.execute(f'SELECT COUNT(*), MD5(STRING_AGG(MD5(CAST(x AS TEXT)), \'\' ORDER BY '
                                f'MD5(CAST(x AS TEXT)))) FROM "{t}" AS x').fetchone() for t in TABLES}


def songplays_in_db(stack):
    rows = fetch(stack, "SELECT songplay_id, start_time, user_id, level, song_id, artist_id, session_id, location, "
                        "user_agent FROM songplays")
    keys = ["start_time", "user_id", "level", "song_id", "artist_id", "session_id", "location", "user_agent"]
    return {r[0]: dict(zip(keys, r[1:])) for r in rows}


def users_in_db(stack):
    rows = fetch(stack, "SELECT user_id, first_name, last_name, gender, level, last_seen_at FROM users")
    return {r[0]: dict(zip(["first_name", "last_name", "gender", "level", "last_seen_at"], r[1:])) for r in rows}


def time_in_db(stack):
    rows = fetch(stack, 'SELECT start_time, hour, day, week, month, year, weekday FROM "time"')
    return {r[0]: dict(zip(["hour", "day", "week", "month", "year", "weekday"], r[1:])) for r in rows}


@pytest.fixture(scope="module")
def full_load(dags, stack, source):
    run(dags["create_tables"], None)
    with warehouse(stack) as conn:  # whatever other tests left in the shared test warehouse
        conn.execute('TRUNCATE songplays, users, songs, artists, "time", staging_manifest, staging_rejects')
    dr = run(dags["final_project"], None)  # no logical date: no data interval -> full load
    assert dr.data_interval_start is None
    return dr


def test_full_load_matches_the_json(full_load, stack, source):
    events, songs = source
    plays = ex.songplays(events, songs)
    assert len(plays) == 6820  # the figure the Udacity data set is known for
    assert songplays_in_db(stack) == plays
    matched = sum(p["song_id"] is not None for p in plays.values())
    assert fetch(stack, "SELECT COUNT(song_id), COUNT(artist_id) FROM songplays")[0] == (matched, matched)
    assert matched > 0

    assert users_in_db(stack) == ex.users(events)
    changed_level = {e["userId"] for e in events if e["userId"] and e["level"] == "paid"} & \
                    {e["userId"] for e in events if e["userId"] and e["level"] == "free"}
    assert changed_level, "the data has users who change level"

    db_songs = {r[0]: dict(zip(["title", "artist_id", "year", "duration"], r[1:]))
                for r in fetch(stack, "SELECT song_id, title, artist_id, year, duration FROM songs")}
    assert db_songs == ex.songs_table(songs)
    assert db_songs["SOYXDHH12A8C1337A7"]["title"] == "66"  # a number where a string belongs

    db_artists = {r[0]: dict(zip(["name", "location", "latitude", "longitude"], r[1:]))
                  for r in fetch(stack, "SELECT artist_id, name, location, latitude, longitude FROM artists")}
    assert db_artists == ex.artists_table(songs)
    assert len(db_artists) < len({(s["artist_id"], ex.text(s["artist_name"])) for s in songs})  # conflicts exist

    assert time_in_db(stack) == ex.time_table(plays)
    staged = fetch(stack, "SELECT COUNT(*) FROM staging_events")[0][0]
    assert staged == len(events)
    assert fetch(stack, "SELECT COUNT(*) FROM staging_rejects")[0][0] == 0


def real_bucket_path(stack):
    from tests.conftest import REAL_DATA

    return REAL_DATA


def pick_hours(events):
    per_hour = ex.nextsong_per_hour(events)
    busy = max(per_hour, key=lambda h: (per_hour[h], h))
    midnight = min(h for h in per_hour if h.hour == 0)
    any_event = {ex.start_time(e["ts"]).replace(minute=0, second=0, microsecond=0) for e in events}
    hour = datetime(2018, 11, 1)
    while hour in any_event:
        hour += timedelta(hours=1)
    return busy, midnight, hour


def test_hourly_runs_load_exactly_their_interval(full_load, dags, stack, source):
    events, songs = source
    busy, midnight, empty = pick_hours(events)
    with warehouse(stack) as conn:  # a warehouse that has seen only hourly runs
        conn.execute('TRUNCATE songplays, users, "time"')

    loaded_events = []
    for hour in (busy, midnight, empty):
        start_ms = int(hour.replace(tzinfo=UTC).timestamp() * 1000)
        window = [e for e in events if ex.in_window(e, start_ms, start_ms + 3_600_000)]
        dr = run(dags["final_project"], (hour + timedelta(hours=1)).replace(tzinfo=UTC))
        assert (dr.data_interval_start, dr.data_interval_end) == (
            hour.replace(tzinfo=UTC), (hour + timedelta(hours=1)).replace(tzinfo=UTC))
        loaded_events += window
        plays = ex.songplays(loaded_events, songs)
        assert songplays_in_db(stack) == plays, f"songplays after the run for {hour}"
        assert users_in_db(stack) == ex.users(loaded_events), f"users after the run for {hour}"
        assert time_in_db(stack) == ex.time_table(plays), f"time after the run for {hour}"
        # The run restaged its day file only; the other days staged by the full load stay.
        day_key = f"log_data/{hour:%Y/%m}/{hour:%Y-%m-%d}-events.json"
        day_lines = [line for line in (real_bucket_path(stack) / day_key).read_text().split("\n") if line.strip()]
        assert fetch(stack, "SELECT COUNT(*) FROM staging_events WHERE source_key = %s" % f"'{day_key}'")[0][0] \
            == len(day_lines)
        assert fetch(stack, "SELECT COUNT(*) FROM staging_events")[0][0] == len(events)
        if hour == empty:
            assert not window
        else:
            assert any(e["page"] == "NextSong" for e in window)

    assert busy.hour != 0 and midnight.hour == 0
    assert len(ex.songplays([e for e in events if ex.in_window(
        e, int(busy.replace(tzinfo=UTC).timestamp() * 1000), int(busy.replace(tzinfo=UTC).timestamp() * 1000)
        + 3_600_000)], songs)) >= 40


def test_rerunning_an_hour_leaves_every_table_identical(full_load, dags, stack, source):
    events, _ = source
    busy, _, _ = pick_hours(events)
    before = checksums(stack)
    for _ in range(3):  # clearing and rerunning an hourly run, three times
        run(dags["final_project"], (busy + timedelta(hours=1)).replace(tzinfo=UTC))
        assert checksums(stack) == before
    # An old hour replayed after newer data never rolls a user back to an older level.
    run(dags["final_project"], datetime(2018, 11, 2, 0, tzinfo=UTC))
    run(dags["final_project"], (busy + timedelta(hours=1)).replace(tzinfo=UTC))
    users = users_in_db(stack)
    assert all(u["last_seen_at"] >= datetime(2018, 11, 1) for u in users.values())
