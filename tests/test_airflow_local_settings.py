"""dev/airflow_local/airflow_local_settings.py: the stack's Airflow processes that fork this
project's tasks or parses pre-import what those import, and hand the processes they fork a
warm map of module files; the others start without them."""

from __future__ import annotations

import subprocess
import sys

from dev.stack import REPO

PROBE = """
import inspect, os, sys
sys.argv = ['airflow', {component!r}]
import airflow_local_settings
import json.tool  # loaded after the settings, before the fork: mapped too
print(all(name in sys.modules for name in airflow_local_settings.PREIMPORT))
read, write = os.pipe()
if os.fork() == 0:
    mapped = set(inspect.modulesbyfile.values())
    os.write(write, str({{'boto3', 'json.tool'}} <= mapped).encode())
    os._exit(0)
os.wait()
print(os.read(read, 10).decode())
"""


def probe(component: str) -> tuple[bool, bool]:
    """(every PREIMPORT module loaded, a forked process inherits their files mapped)"""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(component=component)],
        cwd=REPO / "dev" / "airflow_local",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    preimported, mapped = out.strip().splitlines()[-2:]
    return preimported == "True", mapped == "True"


def test_the_scheduler_pre_imports_what_tasks_import_and_forks_with_their_files_mapped():
    # the amazon hook's inspect.stack() in a task then maps no module file again (see the module)
    assert probe("scheduler") == (True, True)


def test_the_api_server_the_triggerer_and_db_migrate_do_neither():
    for component in ("api-server", "triggerer", "db"):
        assert probe(component) == (False, False), component
