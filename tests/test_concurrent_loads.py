"""Overlapping backfill runs load the same tables at the same moment. Two rebuilds of `songs`
(delete everything, insert the catalog) that overlap both succeed, one after the other,
because every load locks its table first; without the lock the second one's INSERT violates
the primary key (seen in `make run`: `songs_pkey`)."""

from __future__ import annotations

import threading

import psycopg

from include.sparkify import config
from include.sparkify.loads import LoadMode, load_statements
from tests.conftest import warehouse


def rendered(table: str) -> list[str]:
    select = (config.SQL_DIR / "load" / f"{table}.sql").read_text()
    return [
        s.replace("{% include 'load/" + table + ".sql' %}", select)
        for s in load_statements(table, LoadMode.TRUNCATE_INSERT)
    ]


def waiting_for_lock(stack, table: str) -> bool:
    """Some session waits for a lock while running a statement on the table."""
    with warehouse(stack) as conn:
        return bool(
            conn.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                (f'%"{table}"%',),
            ).fetchone()[0]
        )


def test_overlapping_rebuilds_of_a_table_take_turns_and_both_succeed(stack):
    from dev.stack import wait_for

    with warehouse(stack) as conn:
        for path in sorted((config.SQL_DIR / "ddl").glob("*.sql")):  # the current schema, if not there
            conn.execute(path.read_text())
        conn.execute("TRUNCATE staging_songs, songs")
        conn.execute(
            "INSERT INTO staging_songs (song_id, title, artist_id, year, duration, num_songs) "
            "VALUES ('S1', 'one', 'A1', 2000, 100.0, 1), ('S2', 'two', 'A1', 2001, 200.0, 1)"
        )
    statements = rendered("songs")
    errors: list[Exception] = []
    first = psycopg.connect(stack.warehouse_dsn())  # a transaction: the lock is held until commit
    try:
        for statement in statements:
            first.execute(statement)

        def second_load():
            try:
                with psycopg.connect(stack.warehouse_dsn()) as conn:
                    for statement in statements:
                        conn.execute(statement)
            except Exception as exc:  # noqa: BLE001 - any error of the worker thread is the test's result
                errors.append(exc)

        worker = threading.Thread(target=second_load)
        worker.start()
        # The second load is inside its transaction, waiting for the first one's lock: overlap.
        wait_for(lambda: waiting_for_lock(stack, "songs"), 60, "the second load to wait for the lock", interval=0.1)
        first.commit()
        worker.join(60)
    finally:
        first.close()
    assert not worker.is_alive() and errors == []
    with warehouse(stack) as conn:
        assert sorted(conn.execute("SELECT song_id FROM songs").fetchall()) == [("S1",), ("S2",)]
