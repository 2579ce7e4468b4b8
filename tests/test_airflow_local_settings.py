"""dev/airflow_local/airflow_local_settings.py: the stack's Airflow processes that fork this
project's tasks or parses pre-import what those import, and hand the processes they fork a
warm map of module files; the others start without them."""

from __future__ import annotations

import json
import os
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


PARSE_PROBE = """
import json, os, sys
sys.argv = ['airflow', 'dag-processor']
import airflow_local_settings
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
found = {{}}
for path in sorted(os.scandir({dags!r}), key=lambda e: e.name):
    if not path.name.endswith('.py'):
        continue
    read, write = os.pipe()
    if os.fork() == 0:  # as the DAG processor parses: in a child forked from it
        before = set(sys.modules)
        bag = DagBag(dag_folder=path.path)
        dags = [DagSerialization.to_dict(dag) for dag in bag.dags.values()]
        new = sorted(m for m in set(sys.modules) - before if not m.startswith(('include', 'unusual_prefix')))
        os.write(write, json.dumps({{'dags': len(dags), 'errors': len(bag.import_errors), 'new': new}}).encode())
        os._exit(0)
    os.wait()
    os.close(write)
    found[path.name] = json.loads(os.read(read, 1 << 20))
print(json.dumps(found))
"""


def test_the_dag_processor_pre_imports_what_parsing_and_serializing_each_dag_file_imports():
    """Each parse runs in a process forked from the DAG processor; what it imports there, it
    imports on every parse (the project's own modules excepted: they are re-read on purpose)."""
    out = subprocess.run(
        [sys.executable, "-c", PARSE_PROBE.format(dags=str(REPO / "dags"))],
        cwd=REPO / "dev" / "airflow_local",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    assert len(found) == len(list((REPO / "dags").glob("*.py")))
    for name, parsed in found.items():
        assert parsed["dags"] >= 1 and parsed["errors"] == 0, (name, parsed)
        assert parsed["new"] == [], name
