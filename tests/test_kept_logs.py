"""tests/conftest.py keeps a failed session's stack logs: keep_logs copies the stack's own logs
and Airflow's task logs, and nothing else of its state (the PostgreSQL data, the secrets)."""

from __future__ import annotations

from tests.conftest import keep_logs


def test_keep_logs_copies_the_stack_logs_and_the_task_logs_only(tmp_path):
    state, kept = tmp_path / "state", tmp_path / "kept"
    files = {
        "logs/airflow-api-server.log": "Traceback: ValidationError",
        "airflow/logs/dag_id=final_project/run_id=r/task_id=Stage_events/attempt=1.log": "COPY failed",
        "pg/postgresql.conf": "port = 5432",
        "etl-password": "s3cret",
    }
    for name, text in files.items():
        (state / name).parent.mkdir(parents=True, exist_ok=True)
        (state / name).write_text(text)
    keep_logs(state, kept)
    copied = {p.relative_to(kept).as_posix(): p.read_text() for p in kept.rglob("*") if p.is_file()}
    assert copied == {
        "airflow-api-server.log": "Traceback: ValidationError",
        "tasks/dag_id=final_project/run_id=r/task_id=Stage_events/attempt=1.log": "COPY failed",
    }
