"""`airflow <component>` for the bare-machine stack, started while `airflow db migrate` runs.

    python -m dev.airflow_component scheduler      # or triggerer, dag-processor, api-server

A component cannot start before the metadata database is migrated, and importing Airflow
and the component's own modules costs each process seconds of CPU. dev/stack.py therefore
starts the four components beside `airflow db migrate`: each imports what it needs
meanwhile (``IMPORTS``), waits for the file named by ``SPARKIFY_MIGRATED_FILE``, which
dev/stack.py writes once the migration succeeded, and then runs ``airflow <component>`` in
this same process (the pid dev/stack.py recorded stays the component's).

Every key the components share comes from their environment (dev/stack.py's airflow_env),
not from airflow.cfg: `airflow db migrate` writes that file on a first start, after these
processes have read their configuration.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

MIGRATED_FILE_VARIABLE = "SPARKIFY_MIGRATED_FILE"
WAIT_SECONDS = 600  # `airflow db migrate` of a new database takes about 10 s here

# What each component imports before it runs, besides the command line (`airflow.cli.cli_parser`).
IMPORTS = {
    "scheduler": ("airflow.jobs.scheduler_job_runner", "airflow.executors.local_executor"),
    "triggerer": ("airflow.jobs.triggerer_job_runner",),
    "dag-processor": ("airflow.dag_processing.manager",),
    "api-server": ("airflow.api_fastapi.app", "uvicorn"),
}


def wait_for_migration(flag: Path, timeout: float = WAIT_SECONDS, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not flag.exists():
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the metadata database was not migrated within {timeout:.0f} s ({flag} not written): "
                "see logs/airflow-db-migrate.log"
            )
        time.sleep(interval)


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in IMPORTS:
        raise SystemExit(f"usage: python -m dev.airflow_component {{{','.join(IMPORTS)}}}")
    component = argv[0]
    flag = Path(os.environ[MIGRATED_FILE_VARIABLE])
    for name in ("airflow.cli.cli_parser", *IMPORTS[component]):
        importlib.import_module(name)
    wait_for_migration(flag)

    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", component]
    airflow_main()


if __name__ == "__main__":
    main(sys.argv[1:])
