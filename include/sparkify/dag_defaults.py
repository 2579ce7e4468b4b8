"""The task defaults every Sparkify DAG uses (its ``default_args``): the owner, retries and
the wait before each (``SPARKIFY_TASK_RETRIES``, ``SPARKIFY_RETRY_DELAY_SECONDS``), and the
operator alerts on failure and on retry (include/sparkify/alerts.py)."""

from __future__ import annotations

from datetime import timedelta

from include.sparkify import config
from include.sparkify.alerts import ON_FAILURE, ON_RETRY

DEFAULT_ARGS = {
    "owner": "sparkify",
    "retries": config.TASK_RETRIES,
    "retry_delay": timedelta(seconds=config.RETRY_DELAY_SECONDS),
    "depends_on_past": False,
    "email_on_retry": False,
    "on_failure_callback": ON_FAILURE,
    "on_retry_callback": ON_RETRY,
}
