"""The Jinja context include/sql is rendered with, for sqlfluff (see .sqlfluff): Airflow's
(``run_window`` for the load and check SQL) and the staging package's (``param`` for the
statements in include/sql/staging, see include/sparkify/staging/statements.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from include.sparkify.window import Window


def run_window(dag_run):
    return Window.from_run(dag_run)


def param(name):
    """A bound parameter: a sample literal for the linter (the runtime renders %(name)s)."""
    return "'" + name + "'"
