"""`make run` says what went wrong, and `make stop` leaves nothing: fed a bad jsonpaths file,
the full load's Stage_events fails; make run names the task, each attempt, the first line
of the error, when the retry is due and the log file, then exits non-zero without starting
the hourly backfill. Then `make stop` ends every process of its stack. Its output holds no
secret. Uses a stack of its own (dev.run and dev.stack as make runs them)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dev.stack import AIRFLOW_DB_PASSWORD, AWS_KEY_ID, AWS_SECRET, PG_PASSWORD, REPO, Stack, free_port, port_open
from tests.conftest import stack_state

pytestmark = pytest.mark.scheduler


@pytest.fixture(scope="module")
def failed_make_run(tmp_path_factory):
    from dev.datagen import GeneratorSpec, generate

    root = tmp_path_factory.mktemp("make-run")
    data = root / "data"
    generate(data, GeneratorSpec(events=200, songs=10, users=5, days=1))
    # Not a jsonpaths file staging can use: an expression that does not parse.
    (data / "log_json_path.json").write_text(json.dumps({"jsonpaths": ['$["artist"', "$.auth"]}))
    with stack_state("make-run") as state:
        yield from _failed_make_run(state, data)


def _failed_make_run(state: Path, data: Path):
    env = {
        **os.environ,
        "SPARKIFY_STATE_DIR": str(state),
        "SPARKIFY_DATA_DIR": str(data),
        "SPARKIFY_PG_PORT": str(free_port()),
        "SPARKIFY_S3_PORT": str(free_port()),
        "SPARKIFY_API_PORT": str(free_port()),
        "SPARKIFY_TASK_RETRIES": "2",
        "SPARKIFY_RETRY_DELAY_SECONDS": "3",
        "PYTHONPATH": str(REPO),
    }
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
    stack = Stack(
        state,
        pg_port=int(env["SPARKIFY_PG_PORT"]),
        s3_port=int(env["SPARKIFY_S3_PORT"]),
        api_port=int(env["SPARKIFY_API_PORT"]),
    )
    try:
        run = subprocess.run(
            [sys.executable, "-m", "dev.run"], env=env, cwd=REPO, capture_output=True, text=True, timeout=900
        )
        stopped = subprocess.run(
            [sys.executable, "-m", "dev.stack", "stop"], env=env, cwd=REPO, capture_output=True, text=True, timeout=300
        )
        yield {"run": run, "stop": stopped, "stack": stack, "env": env}
    finally:
        stack.stop()


def test_a_failing_full_load_ends_make_run_with_the_error(failed_make_run):
    run, stack = failed_make_run["run"], failed_make_run["stack"]
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    error = "StagingError: cannot parse jsonpaths expression '$[\"artist\"' at position 1"
    retries = re.findall(
        r"! Stage_events of (asset_triggered__\S+) failed \(attempt (\d) of 3\), up for retry; "
        r"retry due at \d\d:\d\d:\d\d UTC: (.*)",
        out,
    )
    assert [(attempt, message) for _, attempt, message in retries] == [("1", error), ("2", error)], out
    final = re.findall(r"! Stage_events of (\S+) failed for good \(attempt 3 of 3\): (.*)\n\s+log: (\S+)", out)
    assert final and final[0][1] == error, out
    run_id, log = final[0][0], Path(final[0][2])
    assert log == (
        stack.airflow_home
        / "logs"
        / "dag_id=final_project"
        / f"run_id={run_id}"
        / "task_id=Stage_events"
        / "attempt=3.log"
    )
    assert "cannot parse jsonpaths expression" in log.read_text()
    assert f"final_project run {run_id} failed: make run stops here." in out
    # The hourly window is not started after a failed full load.
    assert "Backfill" not in out and "backfill" not in out
    assert "Sparkify pipeline: local run report" not in out


def test_make_stop_leaves_no_process_and_no_open_port(failed_make_run):
    stopped, stack = failed_make_run["stop"], failed_make_run["stack"]
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert stack.processes() == []
    assert not any(port_open(p) for p in (stack.pg_port, stack.s3_port, stack.api_port))


def test_make_run_output_holds_no_secret(failed_make_run):
    run, stack = failed_make_run["run"], failed_make_run["stack"]
    secrets = [PG_PASSWORD, stack.etl_password(), AIRFLOW_DB_PASSWORD, AWS_SECRET, AWS_KEY_ID, stack.admin_password()]
    secrets += stack.airflow_keys().values()
    assert all(secrets)
    for secret in secrets:
        assert secret not in run.stdout and secret not in run.stderr
