"""The task defaults of every Sparkify DAG (include/sparkify/dag_defaults.py)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest

from include.sparkify import config, dag_defaults
from include.sparkify.alerts import TaskAlert


def test_the_defaults():
    assert dag_defaults.DEFAULT_ARGS == {
        "owner": "sparkify",
        "retries": config.TASK_RETRIES,
        "retry_delay": timedelta(seconds=config.RETRY_DELAY_SECONDS),
        "depends_on_past": False,
        "email_on_retry": False,
        "on_failure_callback": TaskAlert("failed"),
        "on_retry_callback": TaskAlert("up for retry"),
    }


@pytest.fixture
def reloaded(monkeypatch):
    """dag_defaults built again after the test changed config; built again from the real
    config afterwards."""
    yield lambda: importlib.reload(dag_defaults).DEFAULT_ARGS
    monkeypatch.undo()
    importlib.reload(dag_defaults)


def test_retries_and_their_wait_follow_the_settings(monkeypatch, reloaded):
    monkeypatch.setattr(config, "TASK_RETRIES", 6)
    monkeypatch.setattr(config, "RETRY_DELAY_SECONDS", 12.5)
    args = reloaded()
    assert args["retries"] == 6 and args["retry_delay"] == timedelta(seconds=12.5)
