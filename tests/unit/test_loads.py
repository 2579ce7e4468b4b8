"""The statements of a table load (include/sparkify/loads.py) and what the load operator
reports, without a database: the SQL hook's execution is replaced by fixed row counts."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from include.sparkify.loads import (
    STATEMENT_ROLES,
    TABLES,
    AuditWriteOperator,
    LoadMode,
    audit_statements,
    load_statements,
    load_table,
    quote,
    rows_affected,
    sql_now,
    sql_string,
)

# The star schema's keys and modes as the README's load table states them.
README_MODES = {
    "songplays": ("songplay_id", "upsert"),
    "users": ("user_id", "upsert"),
    "time": ("start_time", "upsert"),
    "songs": ("song_id", "truncate-insert"),
    "artists": ("artist_id", "truncate-insert"),
}


def test_each_table_has_its_key_and_mode():
    assert {table: (key, mode.value) for table, (key, mode) in TABLES.items()} == README_MODES


def test_truncate_insert_deletes_everything_then_inserts():
    assert load_statements("songs", LoadMode.TRUNCATE_INSERT) == [
        'LOCK TABLE "songs"',
        'DELETE FROM "songs"',
        "INSERT INTO \"songs\"\n{% include 'load/songs.sql' %}",
    ]


def test_append_only_inserts():
    assert load_statements("time", "append") == [
        'LOCK TABLE "time"',
        "INSERT INTO \"time\"\n{% include 'load/time.sql' %}",
    ]


def test_upsert_replaces_the_rows_whose_key_comes_again():
    assert load_statements("songplays", LoadMode.UPSERT) == [
        'LOCK TABLE "songplays"',
        "CREATE TEMP TABLE \"incoming_songplays\" AS\n{% include 'load/songplays.sql' %}",
        'DELETE FROM "songplays" USING "incoming_songplays" '
        'WHERE "songplays"."songplay_id" = "incoming_songplays"."songplay_id"',
        'INSERT INTO "songplays" SELECT * FROM "incoming_songplays"',
        'DROP TABLE "incoming_songplays"',
    ]


def test_an_upsert_may_name_another_key_and_another_sql_file():
    statements = load_statements("users", LoadMode.UPSERT, key="song_id", sql_file="analytics/x.sql")
    assert statements[1] == "CREATE TEMP TABLE \"incoming_users\" AS\n{% include 'analytics/x.sql' %}"
    assert statements[2].endswith('WHERE "users"."song_id" = "incoming_users"."song_id"')


@pytest.mark.parametrize("mode", list(LoadMode))
@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_load_locks_its_table_first_and_never_truncates(table, mode):
    statements = load_statements(table, mode)
    assert statements[0] == f'LOCK TABLE "{table}"'
    assert len(statements) == len(STATEMENT_ROLES[mode])  # each statement's row count has a role
    assert not any(s.lstrip().upper().startswith("TRUNCATE") for s in statements)  # commits on Redshift
    assert sum(f'"{t}"' in " ".join(statements[1:]) for t in TABLES) == 1  # writes its own table only


@pytest.mark.parametrize("mode", list(LoadMode))
def test_the_roles_name_the_delete_and_the_insert(mode):
    statements = load_statements("users", mode)
    roles = dict(zip(STATEMENT_ROLES[mode], statements))
    assert list(STATEMENT_ROLES[mode]).count("inserted") == 1
    assert roles["inserted"].startswith('INSERT INTO "users"')
    if mode is LoadMode.APPEND:
        assert "deleted" not in roles
    else:
        assert roles["deleted"].startswith('DELETE FROM "users"')
    for role, statement in zip(STATEMENT_ROLES[mode], statements):
        if role is None:  # the lock and the temp table's statements change no row of users
            assert not statement.startswith(('INSERT INTO "users"', 'DELETE FROM "users"'))


def test_an_unknown_table_or_key_is_refused():
    with pytest.raises(ValueError, match="not a table"):
        load_statements("songs; DROP TABLE users", LoadMode.APPEND)
    with pytest.raises(ValueError, match="not a table or key"):
        load_statements("users", LoadMode.UPSERT, key='user_id" OR 1=1 --')
    assert quote("daily_listening") == '"daily_listening"'  # the analytics table is loaded too
    assert quote("start_time") == '"start_time"'


def test_rows_affected_is_the_rows_of_a_query_or_the_count_of_a_dml():
    dml = SimpleNamespace(description=None, rowcount=7)
    assert rows_affected(dml) == 7
    query = SimpleNamespace(description=[("n",)], rowcount=-1, fetchall=lambda: [(1,), (2,)])
    assert rows_affected(query) == [(1,), (2,)]


# ---------------------------------------------------------------- the write of write-audit-publish
def test_a_load_writes_the_runs_rows_to_the_audit_table_replacing_an_earlier_try():
    assert audit_statements("songplays") == [
        'LOCK TABLE "audit_songplays"',
        "CREATE TEMP TABLE \"incoming_songplays\" AS\n{% include 'load/songplays.sql' %}",
        'DELETE FROM "audit_songplays" WHERE run_id = {{ sql_string(run_id) }}',
        'INSERT INTO "audit_songplays" SELECT {{ sql_string(run_id) }}, i.* FROM "incoming_songplays" AS i',
        'DROP TABLE "incoming_songplays"',
    ]
    # nothing of it names a published table
    for table in TABLES:
        assert not any(f'"{table}"' in s for s in audit_statements(table))


def test_a_run_id_becomes_a_sql_literal_or_is_refused():
    for run_id in (
        "scheduled__2018-11-01T13:00:00+00:00",
        "backfill__2018-11-01T13:00:00+00:00",
        "manual__2026-11-29T05:45:25.123456+00:00",
        "asset_triggered__2026-11-29T05:45:25.123456+00:00",
    ):
        assert sql_string(run_id) == f"CAST('{run_id}' AS VARCHAR(250))"
    for hostile in ("it's", "a\\b", "", "x" * 251, "tab\there", None):
        with pytest.raises(ValueError, match="cannot name audit rows"):
            sql_string(hostile)


def test_sql_now_is_a_utc_timestamp_literal():
    before = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    literal = sql_now()
    moment = datetime.strptime(literal, "TIMESTAMP '%Y-%m-%d %H:%M:%S'")
    assert before <= moment <= datetime.now(UTC).replace(tzinfo=None)


def test_the_write_reports_the_rows_written_and_emits_no_asset(monkeypatch):
    # lock, temp table (-1: no count), 2 rows of an earlier try deleted, 5 written, drop.
    monkeypatch.setattr(SQLExecuteQueryOperator, "execute", lambda self, context: [None, -1, 2, 5, None])
    operator = load_table("Load_songplays_fact_table", "songplays")
    assert isinstance(operator, AuditWriteOperator) and operator.outlets == []
    assert operator.sql == audit_statements("songplays") and operator.autocommit is False
    assert operator.execute({}) == {"table": "songplays", "audit_table": "audit_songplays", "replaced": 2, "written": 5}
