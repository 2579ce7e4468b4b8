"""Test session set-up shared by tests/ and .astro/: an isolated Airflow home (SQLite)
pointing at this project's dags/, created before anything imports Airflow (one per
pytest-xdist worker), removed when the process ends."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent

# A pytest-xdist worker inherits the controller's environment. Each worker makes a home of its
# own: two workers running dag.test() would otherwise share one SQLite database, which takes
# one writer at a time. A home given from outside (no SPARKIFY_TEST_AIRFLOW_WORKER beside it,
# e.g. tests/test_runtime_files.py's isolated processes) is left alone.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
OWNER = os.environ.get("SPARKIFY_TEST_AIRFLOW_WORKER")


def remove_home(owner_pid: int, home: Path) -> None:
    """At exit: the home goes when the process that made it ends, not when a child forked
    from it does."""
    if os.getpid() == owner_pid:
        shutil.rmtree(home, ignore_errors=True)


if "SPARKIFY_TEST_AIRFLOW_HOME" not in os.environ or (OWNER is not None and OWNER != WORKER):
    home = Path(tempfile.mkdtemp(prefix="sparkify-airflow-"))
    atexit.register(remove_home, os.getpid(), home)
    os.environ["SPARKIFY_TEST_AIRFLOW_HOME"] = str(home)
    os.environ["SPARKIFY_TEST_AIRFLOW_WORKER"] = WORKER
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
