"""End to end on the real Udacity data set (30 log files, the full 14,896-song catalog):
create_tables, the full load, then hourly runs, each compared with what the JSON says."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dev.dagtest import run_dag_test
from tests import expected as ex
from tests.conftest import warehouse
from tests.real_data import (
    TABLES,
    checksums,
    fetch,
    load_everything,
    pick_hours,
    real_bucket_path,
    rollback_hour,
    run_for_hour,
    songplays_in_db,
    time_in_db,
    users_in_db,
    window_events,
)

pytestmark = pytest.mark.e2e
UTC = UTC


def test_full_load_matches_the_json(full_load, stack, source):
    events, songs = source
    plays = ex.songplays(events, songs)
    assert len(plays) == 6820  # the figure the Udacity data set is known for
    assert songplays_in_db(stack) == plays
    matched = sum(p["song_id"] is not None for p in plays.values())
    assert fetch(stack, "SELECT COUNT(song_id), COUNT(artist_id) FROM songplays")[0] == (matched, matched)
    assert matched == 319  # plays whose (title, artist, length) is in the catalog, counted from the JSON

    assert users_in_db(stack) == ex.users(events)
    changed_level = {e["userId"] for e in events if e["userId"] and e["level"] == "paid"} & {
        e["userId"] for e in events if e["userId"] and e["level"] == "free"
    }
    assert len(changed_level) == 8, "the data has users who change level"

    db_songs = {
        r[0]: dict(zip(["title", "artist_id", "year", "duration"], r[1:]))
        for r in fetch(stack, "SELECT song_id, title, artist_id, year, duration FROM songs")
    }
    assert db_songs == ex.songs_table(songs)
    assert db_songs["SOYXDHH12A8C1337A7"]["title"] == "66"  # a number where a string belongs

    db_artists = {
        r[0]: dict(zip(["name", "location", "latitude", "longitude"], r[1:]))
        for r in fetch(stack, "SELECT artist_id, name, location, latitude, longitude FROM artists")
    }
    assert db_artists == ex.artists_table(songs)
    # 9,553 artist ids, given with 9,993 different (id, name) pairs: the conflicts rule 5 settles.
    assert (len(db_artists), len({(s["artist_id"], ex.text(s["artist_name"])) for s in songs})) == (9553, 9993)

    assert time_in_db(stack) == ex.time_table(plays)
    staged = fetch(stack, "SELECT COUNT(*) FROM staging_events")[0][0]
    assert staged == len(events)
    assert fetch(stack, "SELECT COUNT(*) FROM staging_rejects")[0][0] == 0


def test_hourly_runs_load_exactly_their_interval(full_load, dags, stack, source):
    events, songs = source
    busy, midnight, empty = pick_hours(events)
    # The hours, and their plays, counted from the JSON files with a standalone script.
    plays_in = {busy: 54, midnight: 1, empty: 0}
    assert (busy, midnight, empty) == (datetime(2018, 11, 15, 16), datetime(2018, 11, 4, 0), datetime(2018, 11, 1, 0))
    with warehouse(stack) as conn:  # a warehouse that has seen only hourly runs
        conn.execute('TRUNCATE songplays, users, "time"')

    loaded_events = []
    for hour in (busy, midnight, empty):
        window = window_events(events, hour)
        run_for_hour(dags, hour)
        assert len(ex.songplays(window, songs)) == plays_in[hour]
        loaded_events += window
        plays = ex.songplays(loaded_events, songs)
        assert songplays_in_db(stack) == plays, f"songplays after the run for {hour}"
        assert users_in_db(stack) == ex.users(loaded_events), f"users after the run for {hour}"
        assert time_in_db(stack) == ex.time_table(plays), f"time after the run for {hour}"
        # The run restaged its day file only; the other days staged by the full load stay.
        day_key = f"log_data/{hour:%Y/%m}/{hour:%Y-%m-%d}-events.json"
        day_lines = [line for line in (real_bucket_path(stack) / day_key).read_text().split("\n") if line.strip()]
        assert fetch(stack, "SELECT COUNT(*) FROM staging_events WHERE source_key = {}".format(f"'{day_key}'"))[0][
            0
        ] == len(day_lines)
        assert fetch(stack, "SELECT COUNT(*) FROM staging_events")[0][0] == len(events)
    assert fetch(stack, "SELECT COUNT(*) FROM songplays")[0][0] == 54 + 1 + 0


def test_rerunning_an_hour_leaves_every_table_identical(full_load, dags, stack, source):
    events, _ = source
    busy, _, _ = pick_hours(events)
    before = checksums(stack)
    for _ in range(3):  # clearing and rerunning an hourly run, three times
        run_for_hour(dags, busy)
        assert checksums(stack) == before


def test_replaying_an_old_hour_never_rolls_a_user_back(full_load, dags, stack, source):
    """Users 80 and 88 are free in the hour 2018-11-02 11:00 and paid from later on: replaying
    that hour after the full load leaves them paid, and every table as it was."""
    events, _ = source
    hour, older = rollback_hour(events)
    final = ex.users(events)
    assert (hour, older) == (datetime(2018, 11, 2, 11), {80: "free", 88: "free"})
    assert {uid: final[uid]["level"] for uid in older} == {80: "paid", 88: "paid"}
    assert {uid: users_in_db(stack)[uid]["level"] for uid in older} == {80: "paid", 88: "paid"}
    before = checksums(stack)

    run_for_hour(dags, hour)
    users = users_in_db(stack)
    assert {uid: users[uid]["level"] for uid in older} == {80: "paid", 88: "paid"}
    assert {uid: users[uid]["last_seen_at"] for uid in older} == {uid: final[uid]["last_seen_at"] for uid in older}
    # Every user's level is that of their latest event in the whole data set.
    assert {uid: u["level"] for uid, u in users.items()} == {uid: u["level"] for uid, u in final.items()}
    assert users == final
    assert checksums(stack) == before


# ------------------------------------------------------------------ schema upgrade on real data
def test_a_first_schema_warehouse_of_real_data_upgrades_keeping_every_row_and_passing_every_check(
    full_load, dags, stack, tmp_path, monkeypatch
):
    """A warehouse built from the first migration alone and holding the real data set's full
    load (copied column by column from the test warehouse, as far as the first schema has the
    columns), upgraded to head: every row stays, the new columns appear, and every
    data-quality check of final_project passes on it."""
    import json
    import shutil

    import psycopg

    from include.sparkify.migrations import MIGRATIONS_DIR, apply_migrations

    first_only = tmp_path / "first"
    first_only.mkdir()
    shutil.copy(sorted(MIGRATIONS_DIR.glob("0001_*.sql"))[0], first_only)
    stack.drop_database("upgrade_probe")
    probe = stack.create_database("upgrade_probe")  # owned by the role Airflow uses, as sparkify is
    try:
        with psycopg.connect(probe) as conn:
            assert apply_migrations(conn, run_id="first_release", directory=first_only)["version"] == 1
        with psycopg.connect(probe) as conn:
            first_columns = {}
            for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position"
            ).fetchall():
                first_columns.setdefault(table, []).append(column)
        assert "source_key" not in first_columns["staging_events"] and "dq_history" not in first_columns

        # The real data's full load, moved into the first schema with COPY, column by column.
        before = {}
        with psycopg.connect(stack.warehouse_dsn()) as source, psycopg.connect(probe) as target:
            for table, columns in first_columns.items():
                names = ", ".join(f'"{c}"' for c in columns)
                with (
                    source.cursor().copy(f'COPY (SELECT {names} FROM "{table}") TO STDOUT') as out,
                    target.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as into,
                ):
                    for block in out:
                        into.write(block)
                before[table] = digest(source, table, columns)
        assert before["songplays"][0] == 6820 and before["songs"][0] == 14896

        with psycopg.connect(probe) as conn:
            result = apply_migrations(conn, run_id="upgrade", directory=MIGRATIONS_DIR)
        heads = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
        assert result["applied"] == heads[1:] and result["version"] == len(heads)
        with psycopg.connect(probe) as conn:
            assert {t: digest(conn, t, cols) for t, cols in first_columns.items()} == before
            columns = {
                (t, c)
                for t, c in conn.execute(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
                ).fetchall()
            }
        assert {
            ("staging_events", "source_key"),
            ("staging_manifest", "checked_at"),
            ("dq_history", "check_name"),
            ("daily_listening", "play_date"),
        } <= columns

        # A full-load run of final_project from the staged data on the upgraded warehouse: every
        # load writes its audit rows, every data-quality check passes, the publish leaves every
        # table as the full load had it.
        monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT", json.dumps({**stack.redshift_conn(), "schema": "upgrade_probe"}))
        dag = dags["final_project"]
        task_ids = [t.task_id for t in dag.tasks if not t.task_id.startswith(("Stage_", "Begin_"))]
        after_staging = dag.partial_subset(task_ids=task_ids, include_upstream=False)
        checks = [t for t in after_staging.tasks if t.task_id.startswith("Run_data_quality_checks.")]
        assert len(checks) == 3  # the table, column and relational checks
        dr = run_dag_test(after_staging)
        states = {ti.task_id: ti.state for ti in dr.get_task_instances()}
        assert dr.state == "success" and set(states.values()) == {"success"}, states
        with psycopg.connect(probe) as conn:
            recorded = conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE passed) FROM dq_history WHERE run_id = %s", (dr.run_id,)
            ).fetchone()
            published = {
                t: digest(conn, t, first_columns[t]) for t in ("songplays", "users", "songs", "artists", "time")
            }
        assert recorded[0] == declared_checks() and recorded[0] == recorded[1]
        assert published == {t: before[t] for t in published}
    finally:
        stack.drop_database("upgrade_probe")


def declared_checks() -> int:
    """How many checks the audit declares: per table "not empty" and its column checks, the
    staged columns' null checks, the relational checks."""
    from include.sparkify.loads import TABLES
    from include.sparkify.quality import RELATIONAL_CHECKS, REQUIRED_STAGED, column_mapping

    columns = sum(len(checks) for t in TABLES for checks in column_mapping(t).values())
    return len(TABLES) + columns + sum(len(c) for _, c in REQUIRED_STAGED.values()) + len(RELATIONAL_CHECKS)


def digest(conn, table: str, columns: list[str]) -> tuple[int, str]:
    """Row count and an order-independent checksum of the given columns of a table."""
    row = ", ".join(f'"{c}"' for c in columns)
    return tuple(
        conn.execute(
            f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(MD5(CAST(ROW({row}) AS TEXT)), '' "
            f"ORDER BY MD5(CAST(ROW({row}) AS TEXT))), '')) FROM \"{table}\""
        ).fetchone()
    )


# ------------------------------------------------------------------ hour partitions (SPARKIFY_LOG_KEY_TEMPLATE)
HOURS_TEMPLATE = "log_hours/%Y/%m/%d/%H/"


def upload_dir(stack, root: Path) -> int:
    """Puts the objects under root into the bucket (inside moto's process: a PUT per object
    costs about 8 ms of CPU here); returns how many were new."""
    assert not [p for p in root.rglob("*") if p.is_file() and p.suffix != ".json"]  # seed skips *.md only
    return stack.seed(root)["uploaded"]


@pytest.fixture(scope="module")
def hour_partitions(real_bucket, stack, tmp_path_factory):
    """The real logs re-partitioned into one object per hour (dev/partition.py), uploaded
    under log_hours/ beside the day files: root, and the lines of each object."""
    from dev.partition import partition_logs

    root = tmp_path_factory.mktemp("hour-partitions")
    summary = partition_logs(real_bucket / "log_data", root, HOURS_TEMPLATE)
    assert upload_dir(stack, root) == summary["objects"]
    return root


def use_layout(monkeypatch, template: str, late_minutes: float = 60):
    """Staging reads the logs by ``template`` (as with SPARKIFY_LOG_KEY_TEMPLATE) in this test."""
    from include.sparkify.staging import sources
    from include.sparkify.staging.layout import LogLayout

    layout = LogLayout(template, late_minutes)
    events = replace(sources.EVENTS, prefix=layout.fixed_prefix.rstrip("/"), layout=layout)
    monkeypatch.setitem(sources.SOURCES, "staging_events", events)
    return events


def object_lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().split(b"\n") if line.strip()]


def test_hour_partitions_load_the_same_tables_as_the_day_files(
    full_load, full_load_state, hour_partitions, dags, stack, source, monkeypatch
):
    events, songs = source
    use_layout(monkeypatch, HOURS_TEMPLATE)
    # The song catalog is the same objects in both layouts: kept staged, so this full load
    # restages the events only (restaging 14,896 songs from moto would add a minute).
    load_everything(dags, stack, restage_catalog=False)
    assert checksums(stack) == {t: full_load_state[t] for t in TABLES}  # a full load: the same star schema
    assert fetch(stack, "SELECT COUNT(*), COUNT(DISTINCT source_key) FROM staging_events")[0] == (
        len(events),
        len(list(hour_partitions.rglob("*.json"))),
    )

    with warehouse(stack) as conn:  # then hourly runs only, as in test_hourly_runs_load_exactly_their_interval
        conn.execute('TRUNCATE songplays, users, "time"')
    loaded_events = []
    for hour in pick_hours(events):
        run_for_hour(dags, hour)
        loaded_events += window_events(events, hour)
        plays = ex.songplays(loaded_events, songs)
        assert songplays_in_db(stack) == plays, f"songplays after the run for {hour}"
        assert users_in_db(stack) == ex.users(loaded_events), f"users after the run for {hour}"
        assert time_in_db(stack) == ex.time_table(plays), f"time after the run for {hour}"
        # The run restaged its hour's partition (and the next one, for late events), nothing else.
        for partition in (hour, hour + timedelta(hours=1)):
            key = partition.strftime(HOURS_TEMPLATE) + "events.json"
            path = hour_partitions / key
            count = fetch(stack, f"SELECT COUNT(*) FROM staging_events WHERE source_key = '{key}'")[0][0]
            assert count == (len(object_lines(path)) if path.exists() else 0), key
        assert fetch(stack, "SELECT COUNT(*) FROM staging_events")[0][0] == len(events)
    assert fetch(stack, "SELECT COUNT(*) FROM songplays")[0][0] == 54 + 1 + 0


def test_a_late_event_in_the_next_hours_partition_is_loaded_once(
    full_load, real_bucket, dags, stack, source, monkeypatch, tmp_path
):
    """An event whose object landed in the next hour's partition (up to SPARKIFY_LATE_MINUTES
    late) is loaded by the run of its own hour, and not again by the next hour's run."""
    events, songs = source
    busy, _, _ = pick_hours(events)
    late_template = "log_late/%Y/%m/%d/%H/"
    from dev.partition import partition_logs

    partition_logs(real_bucket / "log_data", tmp_path, late_template)
    here = tmp_path / (busy.strftime(late_template) + "events.json")
    later = tmp_path / ((busy + timedelta(hours=1)).strftime(late_template) + "events.json")
    lines = object_lines(here)
    late = next(line for line in lines if json.loads(line)["page"] == "NextSong" and json.loads(line)["userId"])
    here.write_bytes(b"\n".join(line for line in lines if line != late))
    later.write_bytes(b"\n".join([*object_lines(later), late]))
    for path in tmp_path.rglob("*.json"):  # only the hours this test runs, and the partitions they read
        hour = datetime.strptime(path.relative_to(tmp_path).parent.as_posix(), "log_late/%Y/%m/%d/%H")
        if not busy <= hour <= busy + timedelta(hours=2):
            path.unlink()
    upload_dir(stack, tmp_path)
    use_layout(monkeypatch, late_template, late_minutes=60)

    with warehouse(stack) as conn:
        conn.execute('TRUNCATE songplays, users, "time"')
        # The warehouse switches layouts: the rows the full load staged from the day files go
        # (docs/operations.md), else every event would be staged twice and fail the audit.
        conn.execute("DELETE FROM staging_events WHERE source_key LIKE 'log_data/%'")
    run_for_hour(dags, busy)  # reads busy's partition and the next one (late events)
    busy_plays = ex.songplays(window_events(events, busy), songs)
    assert songplays_in_db(stack) == busy_plays  # the late event included
    late_event = json.loads(late)
    assert any(p["start_time"] == ex.start_time(late_event["ts"]) for p in busy_plays.values())

    run_for_hour(dags, busy + timedelta(hours=1))
    both = ex.songplays(window_events(events, busy) + window_events(events, busy + timedelta(hours=1)), songs)
    assert songplays_in_db(stack) == both  # loaded once: no second row for the late event
