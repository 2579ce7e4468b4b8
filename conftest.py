"""Test session set-up shared by tests/ and .astro/: an isolated Airflow home (SQLite)
pointing at this project's dags/, created before anything imports Airflow."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent

if "SPARKIFY_TEST_AIRFLOW_HOME" not in os.environ:
    home = Path(tempfile.mkdtemp(prefix="sparkify-airflow-"))
    os.environ["SPARKIFY_TEST_AIRFLOW_HOME"] = str(home)
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
