"""Airflow local settings of the bare-machine stack only: dev/stack.py puts this folder on
the PYTHONPATH of the Airflow processes it starts. The Astro image never sees it.

Every Airflow process imports this module while it initialises. In the scheduler and the
DAG processor (``PREIMPORT_IN``) it pre-imports the third-party modules every task of this
project imports (the providers, boto3, psycopg, orjson). The LocalExecutor forks its
workers from the scheduler when the executor starts, and each task process is forked from
a worker, so tasks start with these modules already loaded instead of importing them again
(docs/benchmarks.md, "Where an hourly run's time goes"). The project's own modules
(include/) are not pre-imported: a task imports them afresh, so an edit to include/
reaches the next task without restarting the stack.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys

__all__: list[str] = []  # no policies or settings: Airflow copies every public name

PREIMPORT = (
    "boto3",
    "botocore.session",
    "psycopg",
    "orjson",
    "airflow.sdk",
    "airflow.providers.common.sql.operators.sql",
    "airflow.providers.common.sql.hooks.sql",
    "airflow.providers.postgres.hooks.postgres",
    "airflow.providers.amazon.aws.hooks.s3",
    "airflow.providers.standard.operators.empty",
    "airflow.providers.smtp.notifications.smtp",
    "airflow.providers.slack.notifications.slack",
    # what parsing the DAG files imports besides (found by diffing sys.modules around a parse)
    "airflow.sdk.definitions.decorators",
    "airflow.providers.standard.decorators.python",
    "airflow.providers.standard.operators.python",
    "airflow.providers.amazon.aws.assets.s3",
    "airflow.providers.amazon.aws.assets.redshift",
    "airflow.providers.postgres.assets.postgres",
    "airflow.providers.common.compat.assets",
    "airflow.providers.common.io.assets.file",
    "packaging.requirements",
    "jinja2.ext",
    # what serializing the parsed DAGs imports (the DAG processor's child, after the parse)
    "airflow.serialization.serialized_objects",
    "airflow.models.serialized_dag",
    "airflow.api.common.trigger_dag",
    "airflow.providers.standard.operators.trigger_dagrun",
    "airflow.providers.standard.sensors.external_task",
    "airflow.timetables.assets",
    "airflow.timetables.trigger",
)


# The components that run this project's code in processes they fork: the scheduler (its
# LocalExecutor workers, then each task) and the DAG processor (each parse). The API server,
# the triggerer and `airflow db migrate` never do; pre-importing there cost each of them
# about 1.4 s at start-up (`airflow db check-migrations`: 6.0-6.2 s with, 4.6-4.8 s without).
PREIMPORT_IN = ("scheduler", "dag-processor")


def _map_module_files() -> None:
    """Fills ``inspect``'s cache of which file is which module with every module loaded so far.

    The amazon provider's AwsGenericHook calls ``inspect.stack()`` whenever it creates a boto3
    client (``_get_caller``: the operator named in its user agent). The first such call in a
    process maps the file of every loaded module (``inspect.getmodule``, a ``realpath`` each):
    0.12 s in a forked process with the modules above loaded, 0.004 s with the map inherited.
    Called before each fork (``os.register_at_fork``), so a worker and each task inherit the
    map; after the first call only the modules loaded since are mapped."""
    try:
        inspect.getmodule(sys._getframe())
    except Exception:  # a speed-up only
        logging.getLogger(__name__).debug("could not map the module files", exc_info=True)


def _preimport() -> None:
    if not any(arg in PREIMPORT_IN for arg in sys.argv[1:2]):
        return
    for name in PREIMPORT:
        try:
            importlib.import_module(name)
        except Exception:  # a speed-up only: never stop Airflow from starting
            logging.getLogger(__name__).warning("could not pre-import %s", name, exc_info=True)
    os.register_at_fork(before=_map_module_files)


_preimport()
