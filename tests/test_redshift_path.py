"""The Redshift engine: the COPY statements Redshift would receive for both staging tasks.

S3 is the moto stand-in (the listing is real); the Redshift connection is replaced by a
recorder that answers like Redshift, so the exact SQL sent can be inspected.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest

from dev.stack import AWS_KEY_ID, AWS_SECRET
from include.sparkify import config, staging
from include.sparkify.window import Window

UTC = UTC
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
PASSWORD = "redshift-pw-must-not-leak"


class Recorder:
    """A DB-API connection that records statements and answers like Redshift."""

    def __init__(self):
        self.statements = []
        self.commits = 0

    def cursor(self):
        return _Cursor(self)

    def commit(self):
        self.commits += 1

    def rollback(self):
        pass

    def close(self):
        pass


class _Cursor:
    def __init__(self, conn):
        self.conn = conn
        self.description = None
        self.rows = []

    def execute(self, sql, params=None):
        self.conn.statements.append((" ".join(sql.split()), params))
        self.description, self.rows = None, []
        if "pg_last_copy_count" in sql:
            self.description, self.rows = [("n",), ("id",)], [(7, 4242)]
        elif sql.startswith("SELECT COUNT(*)"):
            self.description, self.rows = [("n",)], [(0,)]
        elif sql.startswith("SELECT column_name"):
            self.description, self.rows = [("c",)], [("page",), ("ts",), ("userid",)]
        elif sql.startswith("SELECT fingerprint"):
            self.description, self.rows = [("f",)], []

    def fetchall(self):
        return self.rows

    def close(self):
        pass


@pytest.fixture
def redshift(stack, monkeypatch):
    s3 = stack.s3_client()
    bucket = "redshift-path"
    try:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    for key in (
        "log_data/2018/11/2018-11-15-events.json",
        "log_data/2018/11/2018-11-16-events.json",
        "song_data/A/A/A/TRAAA.json",
        "song_data/A/B/C/TRABC.json",
        "log_json_path.json",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDSHIFT_PROD",
        json.dumps(
            {
                "conn_type": "redshift",
                "host": "wg.123456789012.us-west-2.redshift-serverless.amazonaws.com",
                "port": 5439,
                "login": "admin",
                "password": PASSWORD,
                "schema": "dev",
            }
        ),
    )
    recorder = Recorder()
    monkeypatch.setattr(staging.RedshiftEngine, "connect", lambda self: recorder)
    return bucket, recorder


def run_stage(source, window, bucket):
    return staging.stage(
        source,
        window,
        run_id="scheduled__2018-11-15T14:00:00+00:00",
        bucket=bucket,
        redshift_conn_id="redshift_prod",
        aws_conn_id="aws_credentials",
    )


def copies(recorder):
    return [sql for sql, _ in recorder.statements if sql.startswith("COPY")]


def test_hourly_events_copy_with_iam_role(redshift, monkeypatch, caplog):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    window = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
    with caplog.at_level(logging.INFO):
        result = run_stage(staging.EVENTS, window, bucket)
    (copy,) = copies(recorder)
    assert copy == (
        "COPY incoming_staging_events (page, ts, userid) "
        f"FROM 's3://{bucket}/log_data/2018/11/2018-11-15-events.json' "
        f"IAM_ROLE '{ROLE}' FORMAT AS JSON 's3://{bucket}/log_json_path.json' REGION 'us-west-2' "
        "MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"
    )
    sql = [s for s, _ in recorder.statements]
    params = dict(recorder.statements)
    # Only the day file's rows are replaced (also those a full load COPYed from the prefix) ...
    delete = (
        "DELETE FROM staging_events WHERE source_key = %(key)s "
        "OR (source_key = %(prefix_tag)s AND ts >= %(day_start)s AND ts < %(day_end)s)"
    )
    day_start = int(datetime(2018, 11, 15, tzinfo=UTC).timestamp() * 1000)
    assert (
        params[delete]
        | {
            "key": "log_data/2018/11/2018-11-15-events.json",
            "prefix_tag": "log_data/",
            "day_start": day_start,
            "day_end": day_start + 86_400_000,
        }
        == params[delete]
    )
    insert = (
        "INSERT INTO staging_events (page, ts, userid, source_key) SELECT page, ts, userid, "
        "CAST(%(key)s AS VARCHAR(1024)) AS source_key FROM incoming_staging_events"
    )
    assert params[insert]["key"] == "log_data/2018/11/2018-11-15-events.json"
    assert sql.index(delete) < sql.index(copy) < sql.index(insert)  # ... then loaded ...
    assert recorder.commits == 1  # ... in one transaction
    assert any("sys_load_error_detail" in s for s in sql)
    # rows the star schema cannot take move to staging_rejects, in the same transaction
    assert "DELETE FROM staging_events WHERE page = 'NextSong' AND COALESCE(userid, '') = ''" in sql
    assert result["rows"] == 7 and result["objects"] == 1 and result["engine"] == "redshift"
    assert ROLE in caplog.text and PASSWORD not in caplog.text


def test_full_load_songs_copy_auto_with_access_keys(redshift, monkeypatch, caplog):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", "")
    with caplog.at_level(logging.DEBUG):
        result = run_stage(staging.SONGS, Window(), bucket)
    (copy,) = copies(recorder)
    assert copy.startswith(f"COPY staging_songs FROM 's3://{bucket}/song_data/' CREDENTIALS '")
    assert f"aws_access_key_id={AWS_KEY_ID};aws_secret_access_key={AWS_SECRET}" in copy
    assert "FORMAT AS JSON 'auto' REGION 'us-west-2'" in copy
    assert result["objects"] == 2
    # The keys went to Redshift but never to the logs.
    assert AWS_SECRET not in caplog.text and PASSWORD not in caplog.text
    assert "CREDENTIALS '***'" in caplog.text


def test_full_load_events_copies_the_prefix(redshift, monkeypatch):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    run_stage(staging.EVENTS, Window(), bucket)
    (copy,) = copies(recorder)
    assert copy.startswith(f"COPY staging_events (page, ts, userid) FROM 's3://{bucket}/log_data/' IAM_ROLE")
    sql = [s for s, _ in recorder.statements]
    assert "DELETE FROM staging_events" in sql
    assert (
        "UPDATE staging_events SET source_key = %(tag)s WHERE source_key IS NULL",
        {"tag": "log_data/"},
    ) in recorder.statements


def select_list_parameters(statement: str) -> list[str]:
    """The bound parameters of a statement that sit in a SELECT list without a CAST around them."""
    bare = []
    for select in re.findall(r"\bSELECT\b(.*?)\bFROM\b", statement):
        bare += re.findall(r"(?<!CAST\()%\(\w+\)s", select)
    return bare


def test_no_untyped_parameter_in_a_select_list(redshift, monkeypatch):
    """redshift_connector sends a Python str as type "unknown", which Redshift refuses in a
    SELECT list (aws/amazon-redshift-python-driver issue 59): every such parameter is CAST."""
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    run_stage(
        staging.EVENTS, Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC)), bucket
    )
    run_stage(staging.SONGS, Window(), bucket)
    inserts = [sql for sql, _ in recorder.statements if sql.startswith("INSERT")]
    assert any("staging_rejects" in sql for sql in inserts) and any("incoming_" in sql for sql in inserts)
    assert {sql: select_list_parameters(sql) for sql in inserts} == {sql: [] for sql in inserts}
    assert select_list_parameters("INSERT INTO t SELECT %(a)s, CAST(%(b)s AS INT) FROM u") == ["%(a)s"]


def test_role_from_the_aws_connection(redshift, monkeypatch, stack):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", "")
    conn = stack.aws_conn()
    conn["extra"]["role_arn"] = ROLE
    conn["extra"]["service_config"] = {"sts": {"endpoint_url": stack.s3_endpoint}}  # moto answers STS too
    monkeypatch.setenv("AIRFLOW_CONN_AWS_CREDENTIALS", json.dumps(conn))
    run_stage(staging.SONGS, Window(), bucket)
    (copy,) = copies(recorder)
    assert f"IAM_ROLE '{ROLE}'" in copy and "CREDENTIALS" not in copy


def test_unknown_connection_type_is_a_clear_error(redshift, monkeypatch):
    bucket, _ = redshift
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT_PROD", json.dumps({"conn_type": "mysql", "host": "h"}))
    with pytest.raises(staging.StagingError, match="expected 'redshift'"):
        run_stage(staging.SONGS, Window(), bucket)
