"""The DAGs parse cleanly and follow the project's conventions."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag

from include.sparkify.alerts import TaskAlert

EXPECTED = {"create_tables", "final_project", "sparkify_analytics", "sparkify_monthly_listening", "warehouse_checks"}


@pytest.fixture(scope="module")
def dagbag():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(include_examples=False) if "include_examples" in DagBag.__init__.__code__.co_varnames else DagBag()
    bag.parse_warnings = [w for w in caught if "dags" in str(w.filename) or "include" in str(w.filename)]
    return bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_no_deprecated_imports(dagbag):
    deprecated = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in dagbag.parse_warnings
        if issubclass(w.category, DeprecationWarning) or "deprecat" in str(w.message).lower()
    ]
    assert deprecated == []
    for path in (
        "dags/create_tables.py",
        "dags/final_project.py",
        "dags/sparkify_analytics.py",
        "dags/sparkify_monthly_listening.py",
        "dags/warehouse_checks.py",
    ):
        source = open(path).read()
        assert "airflow.datasets" not in source and "airflow.operators." not in source


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, "every DAG has tags"
    assert dag.doc_md and len(dag.doc_md) > 100
    assert dag.catchup is False
    for task in dag.tasks:
        assert task.owner == "sparkify", task.task_id
        assert task.retries >= 2, task.task_id
        assert task.retry_delay == timedelta(minutes=5)
        assert task.depends_on_past is False
        assert task.email_on_retry is False
        # Failures and retries alert operators (include/sparkify/alerts.py).
        assert task.on_failure_callback == [TaskAlert("failed")], task.task_id
        assert task.on_retry_callback == [TaskAlert("up for retry")], task.task_id


def test_create_tables_shape(dagbag):
    dag = dagbag.dags["create_tables"]
    assert [t.task_id for t in dag.topological_sort()] == ["Begin_execution", "Create_tables", "Stop_execution"]
    assert dag.schedule == "@once" or getattr(dag.timetable, "description", "") == "Once, as soon as possible"


def test_final_project_shape(dagbag):
    dag = dagbag.dags["final_project"]
    up = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert up["Begin_execution"] == set()
    assert up["Stage_events"] == up["Stage_songs"] == {"Begin_execution"}
    assert up["Load_songplays_fact_table"] == {"Stage_events", "Stage_songs"}
    dims = {"Load_user_dim_table", "Load_song_dim_table", "Load_artist_dim_table", "Load_time_dim_table"}
    for dim in dims:
        assert up[dim] == {"Load_songplays_fact_table"}
    checks = {t for t in up if t.startswith("Run_data_quality_checks.")}
    assert {t.split(".")[1] for t in checks} == {"tables_not_empty", "column_checks", "relational_checks"}
    first_checks = {t for t in checks if up[t] & dims}
    assert first_checks and all(up[t] == dims for t in first_checks)
    assert up["Publish"] and up["Publish"] <= checks  # publishes only after every check
    last_checks = {t for t in checks if not any(t in up[other] for other in checks)}
    assert up["Publish"] == last_checks
    assert up["Stop_execution"] == {"Publish"}
    assert dag.max_active_runs == 1


def test_final_project_schedule(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable

    timetable = dagbag.dags["final_project"].timetable
    assert isinstance(timetable, AssetOrTimeSchedule)
    assert isinstance(timetable.timetable, CronTriggerTimetable)
    assert timetable.timetable.expression == "0 * * * *"
    assert timetable.timetable.interval == timedelta(hours=1)
    assert str(timetable.timetable.timezone) in ("UTC", "Timezone('UTC')")
