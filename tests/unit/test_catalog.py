"""Catalog loads (include/sparkify/catalog.py): songs and artists are written only when the
staged song catalog is not the one their last published load read."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from include.sparkify import config
from include.sparkify.catalog import (
    CatalogWriteOperator,
    load_catalog_table,
    record_statements,
    state_statement,
)
from include.sparkify.loads import CATALOG_TABLES, audit_statements

RUN = "{{ sql_string(run_id) }}"


def test_the_catalog_tables_are_the_ones_rebuilt_from_the_staged_catalog():
    assert CATALOG_TABLES == ("songs", "artists")
    for table in ("songs", "artists"):
        assert "FROM staging_songs" in (config.SQL_DIR / "load" / f"{table}.sql").read_text()


def test_the_write_is_the_audit_write_then_its_catalog_record_in_one_transaction():
    task = load_catalog_table("Load_song_dim_table", "songs")
    assert task.sql == [state_statement("songs"), *audit_statements("songs"), *record_statements("songs")]
    assert task.autocommit is False and task.split_statements is False
    assert len(task.roles) == len(task.sql)  # every statement's count has a role
    assert task.roles.count("written") == 1 and task.sql[task.roles.index("written")].startswith(
        'INSERT INTO "audit_songs"'
    )
    lock, delete, insert = record_statements("songs")
    assert lock == 'LOCK TABLE "catalog_loads"'
    assert delete == f"DELETE FROM catalog_loads WHERE run_id = {RUN} AND loaded_table = 'songs'"
    assert "FROM staging_manifest WHERE staging_table = 'staging_songs'" in insert


def test_only_catalog_tables_have_a_catalog_state():
    assert "catalog_table = 'artists'" in state_statement("artists")
    for bad in ("users", "songs'; DROP TABLE songs; --"):
        with pytest.raises(ValueError, match="not a catalog table"):
            state_statement(bad)
        with pytest.raises(ValueError, match="not a catalog table"):
            record_statements(bad)


def test_the_state_query_reads_the_last_published_load_of_the_table():
    sql = (config.SQL_DIR / "load" / "catalog_state.sql").read_text()
    assert "published_at IS NOT NULL" in sql and "loaded_table = '{{ catalog_table }}'" in sql
    assert "ORDER BY published_at DESC" in sql


class Hook:
    def __init__(self, row):
        self.row, self.queries = row, []

    def get_first(self, sql):
        self.queries.append(sql)
        return self.row


def decide(row, *, full=False, restage=False):
    task = CatalogWriteOperator(task_id="t", table="artists")
    hook = Hook(row)
    task.get_db_hook = lambda: hook
    start = None if full else datetime(2018, 11, 15, 11, tzinfo=UTC)
    end = None if full else datetime(2018, 11, 15, 12, tzinfo=UTC)
    dag_run = SimpleNamespace(data_interval_start=start, data_interval_end=end, run_id="r")
    return task.unchanged("STATE", {"dag_run": dag_run, "params": {"restage_songs": restage}}), hook.queries


def test_an_unchanged_catalog_is_not_rewritten():
    result, queries = decide(("fp1", "fp1", "scheduled__x"))
    assert queries == ["STATE"]
    assert result == {
        "table": "artists",
        "audit_table": "audit_artists",
        "replaced": 0,
        "written": 0,
        "catalog": "unchanged",
        "fingerprint": "fp1",
    }


@pytest.mark.parametrize(
    "row",
    [
        ("fp2", "fp1", "scheduled__x"),  # restaged since
        ("fp1", None, None),  # never published (a first load, or its checks failed)
        None,  # nothing staged yet: the write finds no rows and the checks say so
    ],
)
def test_a_changed_or_never_published_catalog_is_rewritten(row):
    assert decide(row)[0] is None


def test_a_full_load_or_restage_songs_always_rewrites_without_asking():
    assert decide(("fp1", "fp1", "x"), full=True) == (None, [])
    assert decide(("fp1", "fp1", "x"), restage=True) == (None, [])
