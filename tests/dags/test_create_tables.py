"""create_tables as parsed: Begin_execution → Create_tables → Stop_execution; Create_tables
runs the migration runner on the warehouse connection with the run's id; Stop_execution
emits the schema asset, with the schema version and the migrations in its extra, only when
the schema changed, and is skipped otherwise. (Against a real database under dag.test():
tests/test_migrations.py.)"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk.exceptions import AirflowSkipException

from include.sparkify import config


@pytest.fixture(scope="module")
def dag():
    return DagBag().dags["create_tables"]


def test_three_tasks_in_order(dag):
    assert [t.task_id for t in dag.topological_sort()] == ["Begin_execution", "Create_tables", "Stop_execution"]
    up = {t.task_id: t.upstream_task_ids for t in dag.tasks}
    assert up == {"Begin_execution": set(), "Create_tables": {"Begin_execution"}, "Stop_execution": {"Create_tables"}}
    assert isinstance(dag.get_task("Begin_execution"), EmptyOperator)
    assert dag.max_active_runs == 1


def test_only_stop_execution_emits_the_schema_asset(dag):
    assert dag.get_task("Stop_execution").outlets == [config.SCHEMA_READY]
    assert [a.name for a in dag.get_task("Stop_execution").outlets] == ["sparkify_warehouse_schema"]
    assert dag.get_task("Begin_execution").outlets == dag.get_task("Create_tables").outlets == []


def test_the_doc_states_when_the_asset_is_emitted(dag):
    doc = dag.doc_md
    assert "include/sql/migrations/" in doc and "schema_migrations" in doc and "include/sql/ddl/" in doc
    assert "only when" in doc and "skipped" in doc and "without a" in doc  # ... logical date


def test_create_tables_runs_the_migrations_on_the_warehouse_connection(dag, monkeypatch):
    callable_ = dag.get_task("Create_tables").python_callable
    calls: list = []

    class Conn:
        closed = False

        def close(self):
            self.closed = True

    conn = Conn()

    def get_connection(conn_id):
        calls.append(("connection", conn_id))
        return SimpleNamespace(get_hook=lambda: SimpleNamespace(get_conn=lambda: conn))

    def apply_migrations(connection, run_id):
        calls.append(("apply", connection, run_id))
        return {"version": 4, "applied": [], "baselined": []}

    monkeypatch.setattr(callable_.__globals__["BaseHook"], "get_connection", staticmethod(get_connection))
    monkeypatch.setitem(callable_.__globals__, "apply_migrations", apply_migrations)

    assert callable_(run_id="manual__2026-01-01") == {"version": 4, "applied": [], "baselined": []}
    assert calls == [("connection", config.REDSHIFT_CONN_ID), ("apply", conn, "manual__2026-01-01")]
    assert conn.closed


@pytest.mark.parametrize(
    ("applied", "baselined"),
    [
        (["0005_add_a_column.sql"], []),
        ([], ["0001_initial.sql", "0002_staging_events_source_key.sql"]),
    ],
)
def test_stop_execution_emits_when_the_schema_changed(dag, applied, baselined):
    events = {config.SCHEMA_READY: SimpleNamespace(extra={})}
    result = {"version": 5, "applied": applied, "baselined": baselined}
    dag.get_task("Stop_execution").python_callable(result, outlet_events=events)
    assert events[config.SCHEMA_READY].extra == {"schema_version": 5, "applied": applied, "baselined": baselined}


def test_stop_execution_is_skipped_when_nothing_changed(dag):
    events = {config.SCHEMA_READY: SimpleNamespace(extra={})}
    with pytest.raises(AirflowSkipException, match="version 4"):
        dag.get_task("Stop_execution").python_callable(
            {"version": 4, "applied": [], "baselined": []}, outlet_events=events
        )
    assert events[config.SCHEMA_READY].extra == {}
