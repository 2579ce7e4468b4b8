"""The Astro DAG-integrity check (.astro/test_dag_integrity_default.py) parses the DAG files
with placeholder variables and connections: a DAG file that looks both up at parse time
parses there, gets the placeholders, and the real lookups are back afterwards."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
from datetime import datetime

from airflow.sdk import DAG, BaseHook, Variable

bucket = Variable.get("sparkify_probe_bucket")
conn = BaseHook.get_connection("sparkify_probe_conn")
with DAG("probe_parse_time_lookups", schedule=None, start_date=datetime(2018, 11, 1),
         tags=[bucket, f"{conn.conn_id}:{conn.conn_type}"], default_args={"retries": 2}):
    pass
"""


@pytest.fixture
def probe_folder(tmp_path, monkeypatch) -> Path:
    """A DAG folder holding only the probe, as the default DAG folder."""
    from airflow import settings

    (tmp_path / "probe_lookups.py").write_text(PROBE)
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))
    return tmp_path


@pytest.fixture
def integrity(probe_folder):
    """The Astro check's module, loaded (it parses the DAG folder at import, like at collection)."""
    spec = importlib.util.spec_from_file_location(
        "astro_dag_integrity_probe", REPO / ".astro" / "test_dag_integrity_default.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_probe_needs_the_placeholders(probe_folder):
    """Without them the probe does not parse: the lookups below are really needed."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    assert "probe_parse_time_lookups" not in bag.dags
    assert list(bag.import_errors) == [str(probe_folder / "probe_lookups.py")]


def test_placeholders_are_in_effect_while_parsing(integrity):
    from airflow.sdk import BaseHook, Variable

    assert integrity.get_import_errors() == [(None, None)]
    ((dag_id, dag, _),) = integrity.get_dags()
    assert dag_id == "probe_parse_time_lookups"
    assert sorted(dag.tags) == ["placeholder", "sparkify_probe_conn:postgres"]
    # Only while parsing: the real lookups are back.
    assert Variable.get("sparkify_probe_bucket", default="unset") == "unset"
    assert BaseHook.get_connection.__func__ is not integrity._placeholder_connection
