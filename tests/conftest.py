"""Fixtures: the local stand-ins (embedded PostgreSQL + moto), the real Udacity data set
from ../shared, and an initialised Airflow metadata database for dag.test()."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dev.seed import upload_tree
from dev.stack import Stack, free_port

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "sparkify"


def real_data_or_skip() -> Path:
    if not (REAL_DATA / "log_data").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the real data set is missing in CI: expected {REAL_DATA}")
        pytest.skip(f"needs the real Sparkify data set at {REAL_DATA} (../shared beside the repo); "
                    "not available here, e.g. inside the Astro image under `astro dev pytest`")
    return REAL_DATA


@pytest.fixture(scope="session")
def airflow_db() -> None:
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=os.environ.copy())


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """PostgreSQL + moto on free ports; Airflow (dag.test) is pointed at them."""
    stack = Stack(tmp_path_factory.mktemp("stack"), pg_port=free_port(), s3_port=free_port(),
                  api_port=free_port(), bucket="sparkify-test")
    stack.start(airflow=False)
    env = stack.airflow_env()
    for key in ("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_CREDENTIALS", "AIRFLOW_VAR_S3_BUCKET"):
        os.environ[key] = env[key]
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def real_bucket(stack) -> Path:
    """The real data set uploaded to the test bucket (once per session)."""
    data = real_data_or_skip()
    upload_tree(stack.s3_client(), stack.bucket, data)
    return data


def warehouse(stack):
    import psycopg

    return psycopg.connect(stack.warehouse_dsn(), autocommit=True)


def redshift_conn_json(stack) -> str:
    return json.dumps(stack.redshift_conn())


@pytest.fixture(scope="session")
def scheduler_stack(tmp_path_factory):
    """A real scheduler: `airflow standalone` (LocalExecutor on SQLite) over its own
    PostgreSQL + moto, with a small generated sample in the bucket. Shared by every test
    that needs the scheduler, the API server or the UI. Yields (stack, data directory)."""
    from include.sparkify.datagen import GeneratorSpec, generate

    root = tmp_path_factory.mktemp("scheduler")
    data = root / "data"
    generate(data, GeneratorSpec(events=1500, songs=60, users=20, days=2))
    stack = Stack(root / "stack", pg_port=free_port(), s3_port=free_port(), api_port=free_port(),
                  bucket="sparkify-scheduler", parallelism=4)
    try:
        stack.start(airflow=False)
        upload_tree(stack.s3_client(), stack.bucket, data)
        stack.start_airflow()
        yield stack, data
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def asset_triggered_run(scheduler_stack) -> dict:
    """Unpauses both DAGs on the scheduler stack; create_tables (@once) runs and its schema
    asset triggers a final_project full load. Returns that run (finished) as the API gives it."""
    from dev.airflow_api import AirflowAPI

    stack, _ = scheduler_stack
    api = AirflowAPI(stack.api_url, "admin", stack.admin_password())
    for dag_id in ("final_project", "create_tables"):
        api.wait_for_dag(dag_id)
    api.unpause("final_project")
    api.unpause("create_tables")  # @once: runs as soon as it is unpaused
    created = api.wait_for_run("create_tables", lambda r: True, timeout=300)
    assert created["state"] == "success", created
    return api.wait_for_run("final_project", lambda r: r["run_type"] == "asset_triggered", timeout=600,
                            what="the asset-triggered run")
