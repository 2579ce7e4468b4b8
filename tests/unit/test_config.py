"""The settings (include/sparkify/config.py): their defaults and how each environment
variable changes them (read at import, so in a fresh interpreter), the table assets, and
the alert settings read when an alert fires."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from include.sparkify import config

REPO = Path(__file__).resolve().parents[2]

# Reads the settings in a fresh interpreter under each environment of argv (JSON), reloading
# the module between them: config reads the environment once, at import.
READ = """
import importlib, json, os, sys
from include.sparkify import config as c
for number, env in enumerate(json.loads(sys.argv[1])):
    os.environ.update(env)
    if number:
        importlib.reload(c)
    print(json.dumps({
        "redshift": c.REDSHIFT_CONN_ID, "aws": c.AWS_CONN_ID, "log_prefix": c.LOG_PREFIX,
        "song_prefix": c.SONG_PREFIX, "jsonpaths": c.LOG_JSONPATHS_KEY, "role": c.REDSHIFT_IAM_ROLE,
        "region": c.S3_REGION, "max_reject": c.MAX_REJECT_FRACTION, "catalog_minutes": c.CATALOG_CHECK_MINUTES,
        "start": c.START_DATE.isoformat(), "end": c.END_DATE and c.END_DATE.isoformat(), "cron": c.SCHEDULE_CRON,
        "warehouse": c.WAREHOUSE_URI, "deadline": c.RUN_DEADLINE_MINUTES, "retries": c.TASK_RETRIES,
        "retry_delay": c.RETRY_DELAY_SECONDS, "songplays_uri": c.table_asset("songplays").uri,
    }))
"""

OVERRIDES = {
    "SPARKIFY_REDSHIFT_CONN_ID": "rs",
    "SPARKIFY_AWS_CONN_ID": "aws_prod",
    "SPARKIFY_LOG_PREFIX": "raw/logs",
    "SPARKIFY_SONG_PREFIX": "raw/songs",
    "SPARKIFY_LOG_JSONPATHS_KEY": "raw/paths.json",
    "SPARKIFY_REDSHIFT_IAM_ROLE": "arn:aws:iam::123456789012:role/copy",
    "SPARKIFY_S3_REGION": "eu-west-1",
    "SPARKIFY_MAX_REJECT_FRACTION": "0.2",
    "SPARKIFY_CATALOG_CHECK_MINUTES": "90",
    "SPARKIFY_START_DATE": "2019-01-02T03:00:00+02:00",
    "SPARKIFY_END_DATE": "2019-02-01",
    "SPARKIFY_SCHEDULE_CRON": "30 * * * *",
    "SPARKIFY_WAREHOUSE_URI": "redshift://wg.123.eu-west-1.redshift-serverless.amazonaws.com:5439/dev/",
    "SPARKIFY_RUN_DEADLINE_MINUTES": "0.5",
    "SPARKIFY_TASK_RETRIES": "5",
    "SPARKIFY_RETRY_DELAY_SECONDS": "7.5",
}


@pytest.fixture(scope="module")
def settings() -> tuple[dict, dict]:
    """(defaults, with OVERRIDES), as config reads them."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_") or k == "SPARKIFY_TEST_AIRFLOW_HOME"}
    proc = subprocess.run(
        [sys.executable, "-c", READ, json.dumps([{}, OVERRIDES])],
        env={**clean, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    defaults, overridden = (json.loads(line) for line in proc.stdout.strip().splitlines()[-2:])
    return defaults, overridden


def test_the_defaults(settings):
    assert settings[0] == {
        "redshift": "redshift",
        "aws": "aws_credentials",
        "log_prefix": "log_data",
        "song_prefix": "song_data",
        "jsonpaths": "log_json_path.json",
        "role": "",
        "region": "us-west-2",
        "max_reject": 0.01,
        "catalog_minutes": 1440.0,
        "start": "2018-11-01T00:00:00+00:00",
        "end": None,
        "cron": "0 * * * *",
        "warehouse": "postgres://localhost:5432/sparkify",
        "deadline": 45.0,
        "retries": 3,
        "retry_delay": 300.0,
        "songplays_uri": "postgres://localhost:5432/sparkify/public/songplays",
    }


def test_every_knob_is_read_from_the_environment(settings):
    assert settings[1] == {
        "redshift": "rs",
        "aws": "aws_prod",
        "log_prefix": "raw/logs",
        "song_prefix": "raw/songs",
        "jsonpaths": "raw/paths.json",
        "role": "arn:aws:iam::123456789012:role/copy",
        "region": "eu-west-1",
        "max_reject": 0.2,
        "catalog_minutes": 90.0,
        "start": "2019-01-02T03:00:00+02:00",  # an explicit zone is kept
        "end": "2019-02-01T00:00:00+00:00",  # a naive date is UTC
        "cron": "30 * * * *",
        "warehouse": "redshift://wg.123.eu-west-1.redshift-serverless.amazonaws.com:5439/dev",  # no trailing /
        "deadline": 0.5,
        "retries": 5,
        "retry_delay": 7.5,
        "songplays_uri": "redshift://wg.123.eu-west-1.redshift-serverless.amazonaws.com:5439/dev/public/songplays",
    }


def test_dates_are_utc_unless_they_say_otherwise():
    assert config._utc(None) is None and config._utc("") is None
    assert config._utc("2018-11-01") == datetime(2018, 11, 1, tzinfo=UTC)
    assert config._utc("2018-11-01T05:30") == datetime(2018, 11, 1, 5, 30, tzinfo=UTC)
    minus5 = config._utc("2018-11-01T00:00:00-05:00")
    assert minus5.utcoffset() == timedelta(hours=-5) and minus5 == datetime(2018, 11, 1, 5, tzinfo=UTC)
    assert minus5.tzinfo == timezone(timedelta(hours=-5))


def test_table_assets_name_the_table_under_the_warehouse_uri():
    asset = config.table_asset("users")
    assert asset.name == "sparkify_users" and asset.group == "sparkify"
    assert asset.uri == f"{config.WAREHOUSE_URI}/public/users"
    assert config.SCHEMA_READY.name == "sparkify_warehouse_schema"


def test_the_sql_directory_is_include_sql():
    assert config.SQL_DIR == REPO / "include" / "sql"
    assert (config.SQL_DIR / "load" / "songplays.sql").is_file()


@pytest.fixture
def alert_env(monkeypatch):
    for name in (
        "SPARKIFY_ALERT_EMAILS",
        "SPARKIFY_ALERT_FROM",
        "SPARKIFY_SMTP_CONN_ID",
        "SPARKIFY_SLACK_CONN_ID",
        "SPARKIFY_SLACK_CHANNEL",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_alert_settings_defaults(alert_env):
    assert config.AlertSettings.from_env() == config.AlertSettings(
        emails=[],
        from_email="",
        smtp_conn_id="smtp_default",
        slack_conn_id="slack_api_default",
        slack_channel="#sparkify-alerts",
    )


def test_alert_settings_are_read_when_an_alert_fires(alert_env):
    alert_env.setenv("SPARKIFY_ALERT_EMAILS", " ops@sparkify.test, ,data@sparkify.test ,")
    alert_env.setenv("SPARKIFY_ALERT_FROM", "airflow@sparkify.test")
    alert_env.setenv("SPARKIFY_SMTP_CONN_ID", "smtp_prod")
    alert_env.setenv("SPARKIFY_SLACK_CONN_ID", "slack_prod")
    alert_env.setenv("SPARKIFY_SLACK_CHANNEL", "#data-ops")
    assert config.AlertSettings.from_env() == config.AlertSettings(
        emails=["ops@sparkify.test", "data@sparkify.test"],
        from_email="airflow@sparkify.test",
        smtp_conn_id="smtp_prod",
        slack_conn_id="slack_prod",
        slack_channel="#data-ops",
    )
