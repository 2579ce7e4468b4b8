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
from include.sparkify.staging import redshift as redshift_engine
from include.sparkify.window import Window

UTC = UTC
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
PASSWORD = "redshift-pw-must-not-leak"


class Recorder:
    """A DB-API connection that records statements and answers like Redshift: every COPY
    loads ``copied`` rows and refuses ``refused`` lines, which SYS_LOAD_ERROR_DETAIL lists
    (``listed``, by default all of them)."""

    def __init__(self, copied=7, refused=2, listed=None, history=True):
        self.statements = []
        self.commits = 0
        self.copied, self.refused = copied, refused
        self.listed = refused if listed is None else listed
        self.lost = 0  # rejects the INSERT would fail to write
        self.history = history
        self.query_id = 5000

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
        self.rowcount = -1

    def execute(self, sql, params=None):
        conn = self.conn
        conn.statements.append((" ".join(sql.split()), params))
        self.description, self.rows, self.rowcount = None, [], -1
        answer = None
        if sql.startswith("COPY "):
            conn.query_id += 1
        elif "PG_LAST_COPY_COUNT" in sql:
            answer = [(conn.copied,)]
        elif "FROM sys_load_history" in sql:
            answer = [(conn.query_id, conn.copied, conn.refused, "s3://...")] if conn.history else []
        elif "FROM sys_load_error_detail" in sql:
            answer = [(f"s3://b/k{i}", i + 1, "Invalid digit (column ts)") for i in range(conn.listed)]
        elif sql.startswith("INSERT INTO staging_rejects") and "key_0" in sql:
            self.rowcount = len([k for k in params if k.startswith("key_")]) - conn.lost
        elif "AS rejected" in sql:
            answer = [(conn.refused,)]
        elif sql.startswith("SELECT COUNT(*)"):
            answer = [(0,)]
        elif sql.startswith("SELECT column_name"):
            answer = [("page",), ("ts",), ("userid",), ("source_key",)]
        elif sql.startswith("SELECT fingerprint"):
            answer = []
        if answer is not None:
            self.description, self.rows = [("c",)], answer

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
        "log_data/2018/11/2018-11-15-events.json.1",  # COPY FROM its day file's key would load it too
        "log_data/2018/11/2018-11-16-events.json",
        "log_data/_SUCCESS",
        "song_data/A/A/A/TRAAA.json",
        "song_data/A/A/A/TRAAA.json.bak",
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
    monkeypatch.setattr(redshift_engine, "ACCOUNTING_WAIT_SECONDS", 0)
    return bucket, recorder


def run_stage(source, window, bucket):
    return staging.stage(
        source,
        window,
        run_id="scheduled__2018-11-15T14:00:00+00:00",
        bucket=bucket,
        redshift_conn_id="redshift_prod",
        aws_conn_id="aws_credentials",
        max_reject_fraction=1.0,  # the recorder's COPYs refuse 2 of 9 lines
    )


def copies(recorder):
    """The COPYs into the staging tables (not the schema-drift count's COPY into raw_records)."""
    return [sql for sql, _ in recorder.statements if sql.startswith("COPY") and not sql.startswith("COPY raw_records")]


def drift_copies(recorder):
    return [sql for sql, _ in recorder.statements if sql.startswith("COPY raw_records")]


def manifest_urls(stack, bucket, copy):
    """The objects the manifest a COPY reads lists (every entry mandatory)."""
    uri = re.search(r"FROM '(s3://[^']+)'", copy)[1]
    body = json.loads(stack.s3_client().get_object(Bucket=bucket, Key=uri.split("/", 3)[3])["Body"].read())
    assert all(entry["mandatory"] is True for entry in body["entries"])
    return [entry["url"] for entry in body["entries"]]


def test_hourly_events_copy_through_a_manifest_of_the_day_file(redshift, monkeypatch, caplog, stack):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    window = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
    with caplog.at_level(logging.INFO):
        result = run_stage(staging.EVENTS, window, bucket)
    (copy,) = copies(recorder)
    (whole,) = drift_copies(recorder)  # the schema-drift count reads the same objects, whole
    assert "FORMAT AS JSON 'noshred'" in whole
    assert manifest_urls(stack, bucket, whole) == manifest_urls(stack, bucket, copy)
    manifest = (
        f"s3://{bucket}/_sparkify/copy-manifests/staging_events/scheduled__2018-11-15T14_00_00+00_00/00000.manifest"
    )
    assert copy == (
        f"COPY incoming_staging_events (page, ts, userid) FROM '{manifest}' "
        f"IAM_ROLE '{ROLE}' FORMAT AS JSON 's3://{bucket}/log_json_path.json' REGION 'us-west-2' "
        "MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"
    )
    # exactly the day file: not the .json.1 beside it, which COPY FROM the key would also load
    assert manifest_urls(stack, bucket, copy) == [f"s3://{bucket}/log_data/2018/11/2018-11-15-events.json"]
    sql = [s for s, _ in recorder.statements]
    params = dict(recorder.statements)
    # the session is UTC and the tables the load writes are locked first ...
    assert sql[:2] == ["SET TIMEZONE TO 'UTC'", "LOCK staging_events, staging_manifest, staging_rejects"]
    # ... only the day file's rows are replaced (also those a full load COPYed from the prefix) ...
    delete = (
        "DELETE FROM staging_events WHERE source_key = %(key)s "
        "OR (source_key = %(prefix_tag)s AND ts >= %(start_ms)s AND ts < %(end_ms)s)"
    )
    day_start = int(datetime(2018, 11, 15, tzinfo=UTC).timestamp() * 1000)
    assert {k: params[delete][k] for k in ("key", "prefix_tag", "start_ms", "end_ms")} == {
        "key": "log_data/2018/11/2018-11-15-events.json",
        "prefix_tag": "log_data/",
        "start_ms": day_start,
        "end_ms": day_start + 86_400_000,
    }
    insert = (
        "INSERT INTO staging_events (page, ts, userid, source_key) SELECT page, ts, userid, "
        "CAST(%(key)s AS VARCHAR(1024)) AS source_key FROM incoming_staging_events"
    )
    assert params[insert]["key"] == "log_data/2018/11/2018-11-15-events.json"
    assert sql.index(delete) < sql.index(copy) < sql.index(insert)  # ... then loaded ...
    assert recorder.commits == 1  # ... in one transaction
    # the refused lines of that COPY (its SYS query id) go to staging_rejects
    (errors,) = [p for s, p in recorder.statements if "FROM sys_load_error_detail" in s]
    assert errors["query_id"] == recorder.query_id - len(
        drift_copies(recorder)
    )  # the staging COPY's, not the drift count's after it
    (rejects,) = [p for s, p in recorder.statements if s.startswith("INSERT INTO staging_rejects") and "key_0" in s]
    assert {k: v for k, v in rejects.items() if k[:4] in ("key_", "line", "reas")} == {
        "key_0": "s3://b/k0",
        "line_0": 1,
        "reason_0": "Invalid digit (column ts)",
        "key_1": "s3://b/k1",
        "line_1": 2,
        "reason_1": "Invalid digit (column ts)",
    }
    # rows the star schema cannot take move to staging_rejects, in the same transaction
    assert "DELETE FROM staging_events WHERE page = 'NextSong' AND COALESCE(userid, '') = ''" in sql
    assert result["rows"] == 7 and result["rejected"] == 2 and result["records"] == 9
    assert result["objects"] == 1 and result["engine"] == "redshift"
    assert ROLE in caplog.text and PASSWORD not in caplog.text


def test_full_load_songs_one_copy_of_a_manifest_with_access_keys(redshift, monkeypatch, caplog, stack):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", "")
    with caplog.at_level(logging.DEBUG):
        result = run_stage(staging.SONGS, Window(), bucket)
    (copy,) = copies(recorder)
    assert copy.startswith(f"COPY staging_songs FROM 's3://{bucket}/_sparkify/copy-manifests/staging_songs/")
    assert manifest_urls(stack, bucket, copy) == [
        f"s3://{bucket}/song_data/A/A/A/TRAAA.json",
        f"s3://{bucket}/song_data/A/B/C/TRABC.json",
    ]
    assert f"aws_access_key_id={AWS_KEY_ID};aws_secret_access_key={AWS_SECRET}" in copy
    assert "FORMAT AS JSON 'auto' REGION 'us-west-2' MANIFEST" in copy
    assert result["objects"] == 2 and result["ignored_keys"] == ["song_data/A/A/A/TRAAA.json.bak"]
    # The keys went to Redshift but never to the logs.
    assert AWS_SECRET not in caplog.text and PASSWORD not in caplog.text
    assert "CREDENTIALS '***'" in caplog.text


def test_full_load_events_copies_every_json_object_under_the_prefix(redshift, monkeypatch, stack):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    run_stage(staging.EVENTS, Window(), bucket)
    (copy,) = copies(recorder)
    assert copy.startswith("COPY staging_events (page, ts, userid) FROM 's3://")
    assert manifest_urls(stack, bucket, copy) == [
        f"s3://{bucket}/log_data/2018/11/2018-11-15-events.json",
        f"s3://{bucket}/log_data/2018/11/2018-11-16-events.json",
    ]
    sql = [s for s, _ in recorder.statements]
    assert "DELETE FROM staging_events" in sql
    assert (
        "UPDATE staging_events SET source_key = %(tag)s WHERE source_key IS NULL",
        {"tag": "log_data/"},
    ) in recorder.statements


def test_refused_lines_that_cannot_all_be_recorded_fail_the_load(redshift, monkeypatch):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    recorder.refused, recorder.listed = 3, 2  # SYS_LOAD_ERROR_DETAIL lists fewer than were refused
    with pytest.raises(staging.StagingError, match=r"refused 3 lines .* lists 2 and 2 were written to staging_rejects"):
        run_stage(staging.SONGS, Window(), bucket)
    assert recorder.commits == 0
    recorder.refused, recorder.listed, recorder.lost = 2, 2, 1  # an INSERT that writes fewer rows
    with pytest.raises(staging.StagingError, match=r"refused 2 lines .* lists 2 and 1 were written to staging_rejects"):
        run_stage(staging.SONGS, Window(), bucket)
    assert recorder.commits == 0


def test_a_copy_missing_from_the_load_history_fails_the_load(redshift, monkeypatch):
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    recorder.history = False
    with pytest.raises(staging.StagingError, match="SYS_LOAD_HISTORY has no record of it"):
        run_stage(staging.SONGS, Window(), bucket)
    reads = [s for s, _ in recorder.statements if "FROM sys_load_history" in s]
    assert len(reads) == redshift_engine.ACCOUNTING_ATTEMPTS and recorder.commits == 0


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


def test_the_airflow_role_is_not_the_copy_role(redshift, monkeypatch, stack):
    """A role_arn in the AWS connection is the role Airflow assumes (to list S3, too); the
    COPY role trusts Redshift and comes from SPARKIFY_REDSHIFT_IAM_ROLE alone."""
    bucket, recorder = redshift
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", "")
    conn = stack.aws_conn()
    airflow_role = "arn:aws:iam::123456789012:role/airflow-reads-the-bucket"
    conn["extra"]["role_arn"] = airflow_role
    conn["extra"]["service_config"] = {"sts": {"endpoint_url": stack.s3_endpoint}}  # moto answers STS too
    monkeypatch.setenv("AIRFLOW_CONN_AWS_CREDENTIALS", json.dumps(conn))
    run_stage(staging.SONGS, Window(), bucket)
    (copy,) = copies(recorder)
    assert "IAM_ROLE" not in copy and airflow_role not in copy
    assert "CREDENTIALS 'aws_access_key_id=" in copy and ";token=" in copy  # the assumed role's session
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    run_stage(staging.SONGS, Window(), bucket)
    assert f"IAM_ROLE '{ROLE}'" in copies(recorder)[-1]


def test_unknown_connection_type_is_a_clear_error(redshift, monkeypatch):
    bucket, _ = redshift
    monkeypatch.setenv("AIRFLOW_CONN_REDSHIFT_PROD", json.dumps({"conn_type": "mysql", "host": "h"}))
    with pytest.raises(staging.StagingError, match="expected 'redshift'"):
        run_stage(staging.SONGS, Window(), bucket)


def test_the_staging_lock_cannot_deadlock_with_the_write_of_songs_or_artists(stack):
    """The staging transaction's LOCK (redshift/session.sql) against the write of songs or
    artists of an overlapping run, which reads staging_songs and then staging_manifest
    (catalog.py) and keeps its locks until it commits. PostgreSQL's lock manager stands in
    for Redshift's here: LOCK takes its tables in the order listed and a reader holds its
    lock to the end of the transaction on both. With staging_manifest locked first, the
    staging load would hold it while waiting for staging_songs, the write would wait for
    staging_manifest, and PostgreSQL would abort one of them as a deadlock."""
    import threading

    import psycopg

    from dev.stack import wait_for
    from include.sparkify.staging.statements import render

    _, lock = render("redshift/session", table="staging_songs")
    schema = "lock_order"
    with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.execute(f"CREATE SCHEMA {schema}")
        for table in ("staging_songs", "staging_manifest", "staging_rejects"):
            admin.execute(f"CREATE TABLE {schema}.{table} (x INTEGER)")
        options = f"-c search_path={schema} -c lock_timeout=60s"
        with (
            psycopg.connect(stack.warehouse_dsn(), options=options) as catalog_write,
            psycopg.connect(stack.warehouse_dsn(), options=options) as staging_load,
        ):
            catalog_write.execute("SELECT COUNT(*) FROM staging_songs")  # the audit rows, read from staging_songs
            failures = []

            def stage() -> None:
                try:
                    staging_load.execute(lock)
                    staging_load.commit()
                except psycopg.Error as error:
                    failures.append(error)
                    staging_load.rollback()

            thread = threading.Thread(target=stage)
            thread.start()
            pid = staging_load.info.backend_pid
            wait_for(
                lambda: admin.execute(
                    "SELECT COUNT(*) FROM pg_locks WHERE pid = %s AND NOT granted", (pid,)
                ).fetchone()[0],
                30,
                "the staging load to wait for the write's lock",
                interval=0.05,
            )
            try:
                catalog_write.execute("SELECT COUNT(*) FROM staging_manifest")  # the catalog_loads row's fingerprint
                catalog_write.commit()
            finally:
                thread.join(60)
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
    assert failures == [] and not thread.is_alive()
