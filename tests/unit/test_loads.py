"""The statements of a table load (include/sparkify/loads.py) and what the load operator
reports, without a database: the SQL hook's execution is replaced by fixed row counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from include.sparkify import config
from include.sparkify.loads import (
    STAGED_FROM,
    STATEMENT_ROLES,
    TABLES,
    LoadMode,
    load_statements,
    load_table,
    quote,
    rows_affected,
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


# ---------------------------------------------------------------- the operator's report
class StandInTI:
    def __init__(self, results: dict):
        self.results = results
        self.pulled: list = []

    def xcom_pull(self, task_ids):
        self.pulled.append(task_ids)
        return [self.results.get(t) for t in task_ids]


def run_load(monkeypatch, table: str, counts: list, staged: dict, dag_run=None):
    monkeypatch.setattr(SQLExecuteQueryOperator, "execute", lambda self, context: counts)
    operator = load_table(f"Load_{table}", table)
    ti = StandInTI(staged)
    events = defaultdict(lambda: SimpleNamespace(extra={}))
    result = operator.execute({"ti": ti, "dag_run": dag_run, "outlet_events": events})
    return operator, ti, events, result


def test_a_load_reports_its_counts_interval_and_sources_on_its_asset_event(monkeypatch):
    staged = {
        "Stage_events": {"table": "staging_events", "objects": 1, "rows": 9, "sources": ["s3://b/log_data/a.json"]},
        "Stage_songs": {"table": "staging_songs", "objects": 2, "rows": 2, "sources": ["s3://b/song_data/x.json"]},
    }
    dag_run = SimpleNamespace(
        data_interval_start=datetime(2018, 11, 1, 13, tzinfo=UTC),
        data_interval_end=datetime(2018, 11, 1, 14, tzinfo=UTC),
    )
    # UPSERT: lock, temp table (-1: no count), delete 3, insert 5, drop.
    operator, ti, events, result = run_load(monkeypatch, "songplays", [None, -1, 3, 5, None], staged, dag_run)
    assert ti.pulled == [["Stage_events", "Stage_songs"]]  # the seed's staging task ids
    assert (result["rows_deleted"], result["rows_inserted"]) == (3, 5)
    assert result["load"] == "interval" and result["data_interval_start"] == "2018-11-01T13:00:00+00:00"
    assert result["sources"] == ["s3://b/log_data/a.json", "s3://b/song_data/x.json"]
    assert events[config.table_asset("songplays")].extra == result
    assert operator.outlets == [config.table_asset("songplays")]


def test_a_full_truncate_insert_of_songs_reads_only_the_song_staging(monkeypatch):
    staged = {"Stage_songs": {"table": "staging_songs", "objects": 4, "rows": 4, "sources": ["k"]}}
    _, ti, _, result = run_load(monkeypatch, "songs", [None, 10, 12], staged)
    assert STAGED_FROM["songs"] == ("staging_songs",)
    assert ti.pulled == [["Stage_songs"]]
    assert (result["rows_deleted"], result["rows_inserted"], result["load"]) == (10, 12, "full")
    assert result["staged"] == {"staging_songs": {"objects": 4, "rows": 4, "rejected": None, "skipped_unchanged": None}}
