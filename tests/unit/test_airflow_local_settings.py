"""dev/airflow_local/airflow_local_settings.py: the stack's Airflow processes that fork this
project's tasks or parses pre-import what those import; the others start without them."""

from __future__ import annotations

import subprocess
import sys

from dev.stack import REPO

PROBE = (
    "import sys; sys.argv = ['airflow', {component!r}]; import airflow_local_settings; "
    "print(all(name in sys.modules for name in airflow_local_settings.PREIMPORT))"
)


def imports_everything(component: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(component=component)],
        cwd=REPO / "dev" / "airflow_local",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1] == "True"


def test_the_scheduler_pre_imports_what_tasks_import():
    assert imports_everything("scheduler")


def test_the_api_server_the_triggerer_and_db_migrate_do_not():
    for component in ("api-server", "triggerer", "db"):
        assert not imports_everything(component), component
