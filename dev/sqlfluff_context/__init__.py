"""The Jinja context include/sql is rendered with, for sqlfluff (see .sqlfluff): Airflow's
(``run_window`` for the load and check SQL) and the staging package's (``param`` for the
statements in include/sql/staging, see include/sparkify/staging/statements.py)."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from include.sparkify.window import Window

# Importing the project imports Airflow, whose logging set-up passes sqlfluff's INFO records
# on. sqlfluff's command line sets its loggers' level in its own process, not in the worker
# processes of `sqlfluff lint --processes N` (make lint), which would print every file's parse
# tree: there, its records below WARNING are dropped.
if logging.getLogger("sqlfluff").level == logging.NOTSET:
    logging.getLogger("sqlfluff").setLevel(logging.WARNING)


def run_window(dag_run):
    return Window.from_run(dag_run)


def rollup_window(dag_run):
    return Window.for_rollup(dag_run)


def param(name):
    """A bound parameter: a sample literal for the linter (the runtime renders %(name)s)."""
    return "'" + name + "'"


def sql_string(run_id):
    """The run id as a SQL literal (include/sparkify/loads.py's macro)."""
    from include.sparkify.loads import sql_string as literal

    return literal(run_id)


def sql_now():
    return "TIMESTAMP '2018-11-01 14:00:05'"


# The check SQL's task params (include/sparkify/quality.py's VOLUME_PARAMS), as sample values.
params = {
    "volume_min_ratio": 0.6,
    "volume_max_ratio": 1.8,
    "volume_min_baseline": 100,
    "volume_history_days": 7,
    "volume_min_history_runs": 3,
    "max_duplicate_fraction": 0.05,
}
