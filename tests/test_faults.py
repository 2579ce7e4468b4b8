"""Faults during staging: S3 down, the warehouse connection killed, the task process
killed. Each time the load fails as a whole, leaves nothing partial behind, and the retry
stages exactly once. Uses a stack of its own (these tests stop its servers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

import pytest

from dev.seed import upload_tree
from dev.stack import REPO, Stack, free_port
from include.sparkify import staging
from include.sparkify.datagen import GeneratorSpec, generate
from include.sparkify.window import Window

UTC = timezone.utc
FULL = Window()
SPEC = GeneratorSpec(events=100_000, songs=50, users=300, days=1)


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    generate(data, SPEC)
    stack = Stack(root / "stack", pg_port=free_port(), s3_port=free_port(), api_port=free_port(),
                  bucket="sparkify-faults")
    stack.start(airflow=False)
    env = stack.airflow_env()
    saved = {k: os.environ.get(k) for k in ("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_CREDENTIALS")}
    os.environ.update({k: env[k] for k in saved})
    with stack_db(stack) as conn:
        for path in sorted((staging.config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    upload_tree(stack.s3_client(), stack.bucket, data)
    lines = sum(1 for p in (data / "log_data").rglob("*.json") for line in p.read_text().split("\n") if line.strip())
    yield stack, data, lines
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
        return (conn.execute("SELECT COUNT(*) FROM staging_events").fetchone()[0],
                conn.execute("SELECT COUNT(*) FROM staging_rejects").fetchone()[0])


def stage_events(stack, run_id="manual__faults"):
    return staging.stage(staging.EVENTS, FULL, run_id=run_id, bucket=stack.bucket)


def wait_for_backend(stack, pattern: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    with stack_db(stack) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT pid FROM pg_stat_activity WHERE query ILIKE %s AND state = 'active' "
                               "AND pid <> pg_backend_pid()", (pattern,)).fetchone()
            if row:
                return row[0]
            time.sleep(0.02)
    raise TimeoutError(f"no backend running {pattern}")


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
    with stack_db(stack) as conn:
        conn.execute("TRUNCATE staging_events")
    errors = []
    worker = threading.Thread(target=lambda: _capture(errors, stage_events, stack))
    worker.start()
    pid = wait_for_backend(stack, 'COPY "staging_events"%FROM STDIN%')
    with stack_db(stack) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    worker.join(120)
    assert errors and "connection" in str(errors[0]).lower()  # the task fails (and retries)
    assert staged(stack) == (0, 0)  # nothing partial
    assert stage_events(stack)["rows"] == lines  # the retry loads exactly once
    assert staged(stack) == (lines, 0)


def test_task_process_killed_mid_staging(fault_stack):
    stack, _, lines = fault_stack
    before = staged(stack)
    code = ("from include.sparkify import staging; from include.sparkify.window import Window; "
            f"staging.stage(staging.EVENTS, Window(), run_id='manual__killed', bucket={stack.bucket!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_backend(stack, 'COPY "staging_events"%FROM STDIN%')
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert staged(stack) == before  # the killed load left nothing behind
    assert stage_events(stack, run_id="manual__killed")["rows"] == lines  # the rerun
    assert staged(stack) == (lines, 0)


def test_an_hourly_rerun_after_a_kill_is_exact(fault_stack):
    stack, data, _ = fault_stack
    day = sorted((data / "log_data").rglob("*.json"))[0]
    date = datetime.strptime(day.name[:10], "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    hour = Window(date, date.replace(hour=13))
    expected = sum(1 for line in day.read_text().split("\n") if line.strip())
    for _ in range(3):
        result = staging.stage(staging.EVENTS, hour, run_id="scheduled__faults", bucket=stack.bucket)
        assert result["rows"] == expected
        assert staged(stack)[0] == expected


def _capture(errors, fn, *args):
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        errors.append(exc)


def test_fault_environment_is_isolated(fault_stack):
    stack, _, _ = fault_stack
    assert json.loads(os.environ["AIRFLOW_CONN_REDSHIFT"])["port"] == stack.pg_port
