"""Test the validity of all DAGs. **USED BY DEV PARSE COMMAND DO NOT EDIT**

The check `astro dev parse` and `astro dev pytest` run: every DAG file imports without
errors (files listed in dag_integrity_exceptions.txt excepted), has tags and retries >= 2.
Variables and connections are answered with placeholders while the DAG files are parsed
(at collection, in get_import_errors and get_dags), so a DAG that looks them up at parse
time still parses here (ours do not); tests/dags/test_integrity_placeholders.py checks it.
"""

import logging
import os
from contextlib import ExitStack, contextmanager
from unittest import mock

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.models import Variable as ModelVariable
from airflow.sdk import BaseHook, Connection, Variable


@contextmanager
def suppress_logging(namespace):
    logger = logging.getLogger(namespace)
    old_value = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = old_value


def _placeholder_variable(key, *args, **kwargs):
    return "placeholder"


def _placeholder_connection(cls, conn_id):
    return Connection(conn_id=conn_id, conn_type="postgres")


@contextmanager
def placeholder_lookups():
    """Variable.get and BaseHook.get_connection answer placeholders inside the block only."""
    with ExitStack() as patches:
        for variable in (Variable, ModelVariable):
            patches.enter_context(mock.patch.object(variable, "get", staticmethod(_placeholder_variable)))
        patches.enter_context(mock.patch.object(BaseHook, "get_connection", classmethod(_placeholder_connection)))
        yield


def get_import_errors():
    """(file path, error) for every file that fails to import, plus (None, None)."""
    with suppress_logging("airflow"), placeholder_lookups():
        dag_bag = DagBag()

        def strip_path_prefix(path):
            return os.path.relpath(path, os.environ.get("AIRFLOW_HOME", os.getcwd()))

        return [(None, None)] + [(strip_path_prefix(k), v.strip()) for k, v in dag_bag.import_errors.items()]


def get_dags():
    with suppress_logging("airflow"), placeholder_lookups():
        dag_bag = DagBag()

    def strip_path_prefix(path):
        return os.path.relpath(path, os.environ.get("AIRFLOW_HOME", os.getcwd()))

    return [(k, v, strip_path_prefix(v.fileloc)) for k, v in dag_bag.dags.items()]


def _exceptions():
    path = os.path.join(os.path.dirname(__file__), "dag_integrity_exceptions.txt")
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("rel_path,rv", get_import_errors(), ids=[x[0] for x in get_import_errors()])
def test_file_imports(rel_path, rv):
    """Test for import errors on a file."""
    if os.path.exists(".astro/dag_integrity_exceptions.txt"):
        if rel_path in _exceptions():
            pytest.skip(f"{rel_path} is in dag_integrity_exceptions.txt")
    if rel_path and rv:
        raise Exception(f"{rel_path} failed to import with message \n {rv}")


@pytest.mark.parametrize("dag_id,dag,fileloc", get_dags(), ids=[x[2] for x in get_dags()])
def test_dag_tags(dag_id, dag, fileloc):
    """Every DAG has tags."""
    assert dag.tags, f"{dag_id} in {fileloc} has no tags"


@pytest.mark.parametrize("dag_id,dag,fileloc", get_dags(), ids=[x[2] for x in get_dags()])
def test_dag_retries(dag_id, dag, fileloc):
    """Every DAG retries its tasks at least twice."""
    assert dag.default_args.get("retries", 0) >= 2, f"{dag_id} in {fileloc} must have task retries >= 2."
