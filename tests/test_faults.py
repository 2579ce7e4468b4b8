"""Faults during staging: S3 down, the warehouse connection killed, the task process
killed. Each time the load fails as a whole, leaves nothing partial behind, and the retry
stages exactly once. Uses a stack of its own (these tests stop its servers)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from dev.datagen import GeneratorSpec, generate
from dev.seed import upload_tree
from dev.stack import REPO, Stack, free_port
from include.sparkify import staging
from include.sparkify.window import Window
from tests.conftest import stack_state

UTC = UTC
FULL = Window()
SPEC = GeneratorSpec(events=100_000, songs=50, users=300, days=1)


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    generate(data, SPEC)
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_CREDENTIALS")}
    with stack_state("faults") as state:
        stack = Stack(state, pg_port=free_port(), s3_port=free_port(), api_port=free_port(), bucket="sparkify-faults")
        try:
            stack.start(airflow=False)
            os.environ.update({k: stack.airflow_env()[k] for k in saved})
            with stack_db(stack) as conn:
                for path in sorted((staging.config.SQL_DIR / "ddl").glob("*.sql")):
                    conn.execute(path.read_text())
            upload_tree(stack.s3_client(), stack.bucket, data)
            lines = sum(
                1 for p in (data / "log_data").rglob("*.json") for line in p.read_text().split("\n") if line.strip()
            )
            yield stack, data, lines
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            stack.stop()


def stack_db(stack):
    import psycopg

    return psycopg.connect(stack.warehouse_dsn(), autocommit=True)


def staged(stack) -> tuple[int, int]:
    with stack_db(stack) as conn:
        return (
            conn.execute("SELECT COUNT(*) FROM staging_events").fetchone()[0],
            conn.execute("SELECT COUNT(*) FROM staging_rejects").fetchone()[0],
        )


def stage_events(stack, run_id="manual__faults"):
    return staging.stage(staging.EVENTS, FULL, run_id=run_id, bucket=stack.bucket)


@contextlib.contextmanager
def manifest_writes_blocked(stack):
    """Holds staging_manifest in EXCLUSIVE mode (reads pass, writes wait) until the block ends:
    a staging load then waits, its rows copied and its transaction open, at the manifest write
    that ends it. The fault is injected there: no race with a fast COPY, however fast or slow
    the machine."""
    import psycopg

    conn = psycopg.connect(stack.warehouse_dsn())
    try:
        conn.execute("LOCK TABLE staging_manifest IN EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def blocked_backend(stack, timeout: float = 300) -> int:
    """The backend of the staging load waiting at its manifest write (see manifest_writes_blocked)."""
    from dev.stack import wait_for

    def find():
        with stack_db(stack) as conn:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query ILIKE 'DELETE FROM staging_manifest%%'"
            ).fetchone()
        return row[0] if row else None

    return wait_for(find, timeout, "a staging load waiting at its manifest write", interval=0.2)


def empty_staging(stack) -> None:
    with stack_db(stack) as conn:
        conn.execute("TRUNCATE staging_events, staging_rejects, staging_manifest")


def kill_mid_staging(stack, window: Window, run_id: str) -> None:
    """Runs a staging load in another process and SIGKILLs it with its rows copied, before commit."""
    start = None if window.full else window.start.isoformat()
    end = None if window.full else window.end.isoformat()
    code = (
        "from datetime import datetime; from include.sparkify import staging; "
        "from include.sparkify.window import Window; "
        f"w = Window() if {start!r} is None else Window(datetime.fromisoformat({start!r}), "
        f"datetime.fromisoformat({end!r})); "
        f"staging.stage(staging.EVENTS, w, run_id={run_id!r}, bucket={stack.bucket!r})"
    )
    with manifest_writes_blocked(stack):
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            blocked_backend(stack)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL


def test_s3_down_fails_clearly_and_the_retry_succeeds(fault_stack):
    stack, data, lines = fault_stack
    stage_events(stack)
    assert staged(stack) == (lines, 0)
    stack.stop_s3()
    try:
        with pytest.raises(staging.StagingError) as failure:
            stage_events(stack)
        message = str(failure.value)
        assert f"cannot read s3://{stack.bucket}/log_data/ from S3 ({stack.s3_endpoint})" in message
        assert "Nothing was staged" in message
        assert staged(stack) == (lines, 0)  # the previous staging is intact
    finally:
        stack.start_s3()  # moto keeps objects in memory: a new server starts empty
        upload_tree(stack.s3_client(), stack.bucket, data)
    assert stage_events(stack)["rows"] == lines  # the retry
    assert staged(stack) == (lines, 0)


def test_warehouse_connection_killed_mid_load(fault_stack):
    stack, _, lines = fault_stack
    empty_staging(stack)
    errors = []
    worker = threading.Thread(target=lambda: _capture(errors, stage_events, stack))
    with manifest_writes_blocked(stack):
        worker.start()
        pid = blocked_backend(stack)
        with stack_db(stack) as conn:
            assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        worker.join(120)
    assert not worker.is_alive()
    assert errors and "connection" in str(errors[0]).lower()  # the task fails (and retries)
    assert staged(stack) == (0, 0)  # nothing partial
    assert stage_events(stack)["rows"] == lines  # the retry loads exactly once
    assert staged(stack) == (lines, 0)


def test_task_process_killed_mid_staging(fault_stack):
    stack, _, lines = fault_stack
    empty_staging(stack)
    kill_mid_staging(stack, FULL, "manual__killed")
    assert staged(stack) == (0, 0)  # the killed load left nothing behind
    assert stage_events(stack, run_id="manual__killed")["rows"] == lines  # the rerun
    assert staged(stack) == (lines, 0)


def test_an_hourly_rerun_after_a_kill_is_exact(fault_stack):
    stack, data, _ = fault_stack
    empty_staging(stack)
    day = sorted((data / "log_data").rglob("*.json"))[0]
    date = datetime.strptime(day.name[:10], "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    hour = Window(date, date.replace(hour=13))
    expected = sum(1 for line in day.read_text().split("\n") if line.strip())
    kill_mid_staging(stack, hour, "scheduled__faults")
    assert staged(stack) == (0, 0)
    for _ in range(3):
        result = staging.stage(staging.EVENTS, hour, run_id="scheduled__faults", bucket=stack.bucket)
        assert result["rows"] == expected
        assert staged(stack)[0] == expected


def _capture(errors, fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - any error of the worker thread is the test's result
        errors.append(exc)


def test_fault_environment_is_isolated(fault_stack):
    stack, _, _ = fault_stack
    assert json.loads(os.environ["AIRFLOW_CONN_REDSHIFT"])["port"] == stack.pg_port
