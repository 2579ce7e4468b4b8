"""The Jinja context Airflow gives include/sql at render time, for sqlfluff (see .sqlfluff)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from include.sparkify.window import Window


def run_window(dag_run):
    return Window.from_run(dag_run)
