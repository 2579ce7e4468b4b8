"""The task ids other code refers to are defined once (include/sparkify/task_ids.py): they
are the project's original names, they cover every table, and no DAG file types its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from include.sparkify import task_ids
from include.sparkify.loads import STAGED_FROM, TABLES

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
# The library's task factories, whose first argument is the task (or group) id.
TASK_FACTORIES = ("load_table", "build_rollup", "quality_checks", "publish")


def test_the_original_task_names():
    assert (task_ids.BEGIN, task_ids.STOP) == ("Begin_execution", "Stop_execution")
    assert (task_ids.STAGE_EVENTS, task_ids.STAGE_SONGS) == ("Stage_events", "Stage_songs")
    assert task_ids.LOAD_TASKS == {
        "songplays": "Load_songplays_fact_table",
        "users": "Load_user_dim_table",
        "songs": "Load_song_dim_table",
        "artists": "Load_artist_dim_table",
        "time": "Load_time_dim_table",
    }
    assert task_ids.QUALITY_CHECKS == "Run_data_quality_checks"
    assert task_ids.CREATE_TABLES == "Create_tables"
    assert (task_ids.CREATE_TABLES_DAG, task_ids.FINAL_PROJECT_DAG, task_ids.ANALYTICS_DAG) == (
        "create_tables",
        "final_project",
        "sparkify_analytics",
    )


def test_every_table_has_a_load_task_and_every_staging_table_a_staging_task():
    assert set(task_ids.LOAD_TASKS) == set(TABLES)
    assert set(task_ids.STAGING_TASKS) == {t for sources in STAGED_FROM.values() for t in sources}
    assert task_ids.STAGING_TASKS == {"staging_events": "Stage_events", "staging_songs": "Stage_songs"}


def test_the_new_tasks_and_dags():
    assert task_ids.PUBLISH == "Publish"
    assert (task_ids.MONTHLY_DAG, task_ids.BUILD_MONTHLY_LISTENING) == (
        "sparkify_monthly_listening",
        "Build_monthly_listening",
    )


def test_the_module_imports_nothing():
    """dev/ tools (make run's report) import it without Airflow."""
    tree = ast.parse(Path(task_ids.__file__).read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert [getattr(n, "module", None) for n in imports] == ["__future__"]


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_no_dag_file_types_a_task_or_dag_id(path):
    """A task id typed in a DAG file could drift from the one the library pulls from."""
    typed = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        named = [(kw.arg, kw.value) for kw in node.keywords if kw.arg in ("task_id", "dag_id", "group_id")]
        if getattr(node.func, "id", None) in TASK_FACTORIES and node.args:  # load_table("Load_x", ...)
            named.append((node.func.id, node.args[0]))
        typed += [
            f"{path.name}:{node.lineno}: {name} {value.value!r}"
            for name, value in named
            if isinstance(value, ast.Constant)
        ]
    assert typed == []
