"""The publish of write-audit-publish (include/sparkify/publish.py) without a database: its
statements, the order of its locks against what the loads read, and what it reports on the
tables' asset events. The SQL hook's execution is replaced by fixed row counts."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace

import sqlglot
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from sqlglot import exp

from include.sparkify import config
from include.sparkify.loads import TABLES, audit_table
from include.sparkify.publish import (
    COLUMNS,
    LOCK_ORDER,
    PublishOperator,
    apply_statements,
    partition_keys,
    publish,
    publish_statements,
)
from include.sparkify.window import Window

RUN = "{{ sql_string(run_id) }}"


def ddl_columns(name: str) -> list[str]:
    create = sqlglot.parse_one((config.SQL_DIR / "ddl" / f"{name}.sql").read_text(), read="redshift")
    return [c.name for c in create.find_all(exp.ColumnDef)]


def tables_read(sql_file: str) -> set[str]:
    """The tables a load's SELECT reads (Jinja replaced by sample literals)."""
    text = re.sub(r"\{%-?.*?%\}", "", (config.SQL_DIR / sql_file).read_text())
    text = re.sub(r"\{\{.*?\}\}", "0", text)
    tree = sqlglot.parse_one(text, read="redshift")
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes


def test_the_published_columns_are_the_ddls_and_audit_tables_hold_them_after_the_run_id():
    for table in TABLES:
        assert list(COLUMNS[table]) == ddl_columns(table), table
        assert ddl_columns(audit_table(table)) == ["run_id", *COLUMNS[table]], table


def test_an_upsert_replaces_the_published_rows_whose_key_the_run_brings():
    (delete, role_d), (insert, role_i) = apply_statements("songplays")
    assert (role_d, role_i) == ("deleted", "inserted")
    # an hourly run's delete names its window (literal bounds: zone maps skip other hours)
    assert delete == (
        'DELETE FROM "songplays" USING "audit_songplays" WHERE "audit_songplays".run_id = '
        f'{RUN} AND "songplays"."songplay_id" = "audit_songplays"."songplay_id"'
        '{% if not run_window(dag_run).full %} AND "songplays"."start_time" >= {{ run_window(dag_run).start_sql }} '
        'AND "songplays"."start_time" < {{ run_window(dag_run).end_sql }}{% endif %}'
    )
    assert "run_window(dag_run).start_sql" in apply_statements("time")[0][0]
    assert "run_window" not in apply_statements("users")[0][0]  # its rows are of any time
    assert insert.startswith('INSERT INTO "songplays" ("songplay_id", "start_time", ')
    assert insert.endswith(f'FROM "audit_songplays" AS a\nWHERE a.run_id = {RUN}')


def test_users_keep_the_newer_row_of_a_key():
    (delete, _), (insert, _) = apply_statements("users")
    assert delete.endswith('AND "audit_users"."last_seen_at" >= "users"."last_seen_at"')
    # the insert skips a key whose published row survived the delete (it is newer)
    assert 'LEFT JOIN "users" AS p ON a."user_id" = p."user_id"' in insert
    assert insert.endswith(f'WHERE a.run_id = {RUN} AND p."user_id" IS NULL')


def test_a_catalog_table_is_replaced_by_the_runs_rows_only_if_the_run_wrote_it():
    (delete, _), (insert, _) = apply_statements("artists")
    # not TRUNCATE: it would commit on Redshift; and a run whose catalog did not change
    # wrote no audit rows: the published artists stay
    assert delete == (
        'DELETE FROM "artists" WHERE EXISTS (SELECT 1 FROM "audit_artists" WHERE "audit_artists".run_id = ' + RUN + ")"
    )
    assert insert.endswith(f'FROM "audit_artists" AS a\nWHERE a.run_id = {RUN}')


def test_the_publish_locks_then_applies_every_table_records_volumes_and_clears_the_audit_rows():
    steps = publish_statements()
    sql = [s for _, s, _ in steps]
    assert sql[: len(LOCK_ORDER)] == [f'LOCK TABLE "{t}"' for t in LOCK_ORDER]
    assert set(LOCK_ORDER) == set(TABLES) | {audit_table(t) for t in TABLES} | {"catalog_loads"}
    # the writes of songs and artists lock their audit table, then catalog_loads
    assert LOCK_ORDER.index("catalog_loads") > max(LOCK_ORDER.index(f"audit_{t}") for t in ("songs", "artists"))
    applied = [(t, r) for t, _, r in steps if t is not None]
    assert applied == [(t, r) for t in TABLES for r in ("deleted", "inserted")]
    tail = sql[len(LOCK_ORDER) + 2 * len(TABLES) :]
    assert tail == [
        f"UPDATE catalog_loads SET published_at = {{{{ sql_now() }}}} WHERE run_id = {RUN}",
        f"DELETE FROM load_volumes WHERE run_id = {RUN}",
        "{% include 'publish/load_volumes.sql' %}",
        f'SELECT MIN(start_time), MAX(start_time) FROM "audit_songplays" WHERE run_id = {RUN}',
        *(f'DELETE FROM "audit_{t}" WHERE run_id = {RUN}' for t in TABLES),
    ]
    assert not any("TRUNCATE" in s.upper() for s in sql)


def test_no_load_reads_a_table_the_publish_locks_before_the_loads_own_audit_table():
    """A load holds its audit table's lock while it reads; the publish of another run holds
    every lock before that one in LOCK_ORDER. A load reading such a table would wait for a
    publish that waits for it."""
    for table in TABLES:
        own = LOCK_ORDER.index(audit_table(table))
        read = tables_read(f"load/{table}.sql") & set(LOCK_ORDER)
        assert all(LOCK_ORDER.index(t) > own for t in read), (table, read)
    assert tables_read("load/time.sql") == {"audit_songplays"}
    assert "users" in tables_read("load/users.sql")


class OutletEvent:
    """What the publish touches of an outlet event accessor."""

    def __init__(self):
        self.extra: dict = {}
        self.keys: list[str] = []

    def add_partitions(self, keys):
        self.keys += [keys] if isinstance(keys, str) else list(keys)


def test_a_full_load_names_every_hour_of_the_days_it_loaded_and_an_hourly_run_its_hour():
    full = Window()
    keys = partition_keys(full, (datetime(2018, 11, 1, 20, 17), datetime(2018, 11, 30, 0, 5)))
    assert len(keys) == 30 * 24 and (keys[0], keys[-1]) == ("2018-11-01T00:00:00", "2018-11-30T23:00:00")
    assert partition_keys(full, (None, None)) == [] and partition_keys(full, None) == []  # no plays
    hour = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
    assert partition_keys(hour, (None, None)) == ["2018-11-15T13:00:00"]  # a quiet hour is published too


def test_the_publish_emits_every_tables_asset_with_its_counts_and_sources(monkeypatch):
    counts = {"songplays": (3, 5), "users": (1, 2), "songs": (70, 71), "artists": (69, 69), "time": (0, 5)}
    steps = publish_statements()
    span = [(datetime(2018, 11, 1, 13, 5), datetime(2018, 11, 1, 13, 59))]
    monkeypatch.setattr(
        SQLExecuteQueryOperator,
        "execute",
        lambda self, context: [
            span if r == "span" else None if t is None else counts[t][0 if r == "deleted" else 1] for t, _, r in steps
        ],
    )
    operator = publish("Publish")
    assert isinstance(operator, PublishOperator) and operator.autocommit is False
    assert operator.outlets == [config.table_asset(t) for t in TABLES]
    staged = {
        "Stage_events": {"table": "staging_events", "objects": 1, "rows": 9, "sources": ["s3://b/log_data/a.json"]},
        "Stage_songs": {"table": "staging_songs", "objects": 2, "rows": 2, "sources": ["s3://b/song_data/x.json"]},
    }
    ti = SimpleNamespace(xcom_pull=lambda task_ids: [staged.get(t) for t in task_ids])
    events = defaultdict(OutletEvent)
    dag_run = SimpleNamespace(
        data_interval_start=datetime(2018, 11, 1, 13, tzinfo=UTC),
        data_interval_end=datetime(2018, 11, 1, 14, tzinfo=UTC),
    )
    result = operator.execute({"ti": ti, "dag_run": dag_run, "outlet_events": events})
    for table in TABLES:  # every table's event names the run's hour
        assert events[config.table_asset(table)].keys == ["2018-11-01T13:00:00"]
    for table, (deleted, inserted) in counts.items():
        assert (result[table]["rows_deleted"], result[table]["rows_inserted"]) == (deleted, inserted)
        assert events[config.table_asset(table)].extra == result[table]
    assert result["songplays"]["sources"] == ["s3://b/log_data/a.json", "s3://b/song_data/x.json"]
    assert result["songs"]["sources"] == ["s3://b/song_data/x.json"]
    assert result["users"]["data_interval_start"] == "2018-11-01T13:00:00+00:00"
    assert result["artists"]["mode"] == "truncate-insert" and result["time"]["mode"] == "upsert"


def test_a_full_loads_songplays_event_names_every_hour_and_the_other_tables_one_event_each(monkeypatch):
    """A full load covers every hour of the days its plays span; only songplays (the daily
    rollup's asset) carries them as partitions, the other tables name them in extra."""
    steps = publish_statements()
    first, last = datetime(2018, 11, 1, 20, 17), datetime(2018, 11, 3, 0, 5)
    monkeypatch.setattr(
        SQLExecuteQueryOperator,
        "execute",
        lambda self, context: [[(first, last)] if r == "span" else None if t is None else 1 for t, _, r in steps],
    )
    events = defaultdict(OutletEvent)
    ti = SimpleNamespace(xcom_pull=lambda task_ids: [None for _ in task_ids])
    no_interval = SimpleNamespace(data_interval_start=None, data_interval_end=None)
    result = publish("Publish").execute({"ti": ti, "dag_run": no_interval, "outlet_events": events})
    hours = [f"2018-11-{day:02d}T{hour:02d}:00:00" for day in (1, 2, 3) for hour in range(24)]
    assert events[config.table_asset("songplays")].keys == hours
    for table in set(TABLES) - {"songplays"}:
        assert events[config.table_asset(table)].keys == []
    for table in TABLES:
        assert result[table]["partitions"] == {"count": 72, "first": hours[0], "last": hours[-1]}
        assert events[config.table_asset(table)].extra["partitions"] == result[table]["partitions"]
