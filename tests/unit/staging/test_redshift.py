"""The Redshift engine (include/sparkify/staging/redshift.py): COPY, credentials, rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from include.sparkify import config
from include.sparkify.staging.objects import S3Object
from include.sparkify.staging.redshift import RedshiftEngine, copy_statement
from include.sparkify.staging.sources import EVENTS, SONGS, StageResult, StagingError, StagingRun
from include.sparkify.window import Window
from tests.unit.staging.fakes import FakeS3, Recorder

HOUR = Window(datetime(2018, 11, 30, 13, tzinfo=UTC), datetime(2018, 11, 30, 14, tzinfo=UTC))
ROLE = "arn:aws:iam::1:role/r"


class Hook:
    """The two things RedshiftEngine asks of its S3Hook."""

    aws_conn_id = "aws_credentials"

    def __init__(self, extra: dict | None = None, token: str | None = None) -> None:
        self.extra, self.token = extra or {}, token

    def get_connection(self, conn_id: str):
        assert conn_id == "aws_credentials"
        return SimpleNamespace(extra_dejson=self.extra)

    def get_credentials(self):
        return SimpleNamespace(access_key="AK", secret_key="SK", token=self.token)


def engine(source=EVENTS, window=HOUR, hook=None, answers=None, rowcounts=None) -> tuple[RedshiftEngine, Recorder]:
    eng = RedshiftEngine(StagingRun(source, window, "run-1", "bucket"), hook or Hook(), FakeS3({}))
    eng.conn = Recorder(answers, rowcounts)
    eng.accounted = set()
    return eng, eng.conn


def test_copy_statement_for_logs_and_songs():
    logs = copy_statement(
        "staging_events",
        "s3://b/log_data/2018/11/2018-11-15-events.json",
        "s3://b/log_json_path.json",
        "IAM_ROLE 'arn:aws:iam::1:role/r'",
        "us-west-2",
    )
    assert logs.startswith("COPY staging_events FROM 's3://b/log_data/2018/11/2018-11-15-events.json' ")
    assert "FORMAT AS JSON 's3://b/log_json_path.json'" in logs
    assert "REGION 'us-west-2'" in logs and "IAM_ROLE 'arn:aws:iam::1:role/r'" in logs
    songs = copy_statement("staging_songs", "s3://b/song_data/", None, "IAM_ROLE 'x'", "eu-west-1")
    assert "FORMAT AS JSON 'auto'" in songs and "REGION 'eu-west-1'" in songs
    with pytest.raises(StagingError):
        copy_statement("users; drop table x", "s3://b/k", None, "", "r")
    assert "'s3://b/it''s'" in copy_statement("staging_songs", "s3://b/it's", None, "", "r")


def test_copy_statement_with_columns():
    sql = copy_statement("incoming_staging_events", "s3://b/k", None, "C", "r", ["artist", "ts"])
    assert (
        sql == "COPY incoming_staging_events (artist, ts) FROM 's3://b/k' C FORMAT AS JSON 'auto' REGION 'r' "
        "MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"
    )
    with pytest.raises(StagingError):
        copy_statement("staging_events", "s3://b/k", None, "C", "r", ["ts); DROP TABLE x; --"])


def test_credentials_use_the_configured_role_first(monkeypatch):
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    eng, _ = engine(hook=Hook(extra={"role_arn": "arn:aws:iam::2:role/other"}))
    assert eng.credentials() == (f"IAM_ROLE '{ROLE}'", f"IAM_ROLE '{ROLE}'")


def test_without_a_copy_role_the_connection_credentials_are_used(monkeypatch):
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", "")
    # A role_arn in the AWS connection is Airflow's own identity, never the COPY role.
    eng, _ = engine(hook=Hook(extra={"role_arn": ROLE}))
    assert eng.credentials() == ("CREDENTIALS 'aws_access_key_id=AK;aws_secret_access_key=SK'", "CREDENTIALS '***'")
    eng, _ = engine(hook=Hook())
    assert eng.credentials() == ("CREDENTIALS 'aws_access_key_id=AK;aws_secret_access_key=SK'", "CREDENTIALS '***'")
    eng, _ = engine(hook=Hook(token="T"))
    assert eng.credentials()[0] == "CREDENTIALS 'aws_access_key_id=AK;aws_secret_access_key=SK;token=T'"


def test_apply_rules_moves_rule_breakers_to_the_rejects():
    eng, conn = engine(
        SONGS,
        answers=[
            ("information_schema.columns", [("song_id",), ("artist_id",)]),
            ("SELECT COUNT(*) FROM staging_songs WHERE song_id IS NULL", [(2,)]),
            ("SELECT COUNT(*) FROM staging_songs WHERE artist_id IS NULL", [(1,)]),
        ],
    )
    assert eng.apply_rules() == 3
    calls = conn.calls[1:]  # after the column listing
    assert [sql for sql, _ in calls[1::3]] == [
        "SELECT COUNT(*) FROM staging_songs WHERE song_id IS NULL",
        "SELECT COUNT(*) FROM staging_songs WHERE artist_id IS NULL",
    ]
    assert [sql for sql, _ in calls[2::3]] == [
        "DELETE FROM staging_songs WHERE song_id IS NULL",
        "DELETE FROM staging_songs WHERE artist_id IS NULL",
    ]
    for (sql, params), reason in zip(calls[::3], ["missing song_id", "missing artist_id"]):
        assert sql.startswith("INSERT INTO staging_rejects")
        for cast in ("CAST(%(table)s AS VARCHAR(64))", "CAST(%(run_id)s AS VARCHAR(256))"):
            assert cast in sql
        for cast in ("CAST(%(source_key)s AS VARCHAR(1024))", "CAST(%(reason)s AS VARCHAR(1024))"):
            assert cast in sql
        assert "'song_id=' || NVL(CAST(song_id AS VARCHAR), 'null') || ' | ' || 'artist_id='" in sql
        assert params == {
            "table": "staging_songs",
            "run_id": "run-1",
            "source_key": f"s3://bucket/{SONGS.prefix}/ (COPY)",
            "reason": reason,
        }


def test_an_hourly_load_copies_each_day_file_through_a_manifest_and_an_incoming_table(monkeypatch):
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    monkeypatch.setattr(config, "S3_REGION", "us-west-2")
    key = f"{EVENTS.prefix}/2018/11/2018-11-30-events.json"
    eng, conn = engine(
        answers=[
            ("information_schema.columns", [("artist",), ("ts",), ("source_key",)]),
            ("PG_LAST_COPY_COUNT", [(5,)]),
            ("FROM sys_load_history", [(42, 5, 1, "s3://bucket/manifest")]),
            ("FROM sys_load_error_detail", [("s3://bucket/k", 3, "Invalid digit (column ts)")]),
            ("SELECT COUNT(*) FROM staging_events WHERE", [(0,)]),
            ("COUNT(*) AS rejected", [(1,)]),
            ("FROM raw_records AS r, UNPIVOT", [("artist", 5), ("ts", 4), ("mood", 2)]),
        ],
        rowcounts=[("key_0", 1)],
    )
    eng.s3.objects[EVENTS.jsonpaths_key] = b'{"jsonpaths": ["$.artist", "$.ts"]}'
    result = StageResult("staging_events", "redshift")
    eng.load([S3Object(key, 10, "e")], result)
    assert (result.objects, result.bytes, result.rows, result.rejected, result.records) == (1, 10, 5, 1, 6)
    assert not any(sql.startswith("COPY raw_records") for sql, _ in conn.calls)  # not in the load's transaction
    eng.after_commit([S3Object(key, 10, "e")], result)
    # schema drift: the records whole into a SUPER column through a manifest of their own, and
    # their keys against the jsonpaths', after the load committed
    whole = next(sql for sql, _ in conn.calls if sql.startswith("COPY raw_records"))
    assert whole == (
        "COPY raw_records FROM 's3://bucket/_sparkify/copy-manifests/staging_events/run-1/00001.manifest' "
        f"IAM_ROLE '{ROLE}' FORMAT AS JSON 'noshred' REGION 'us-west-2' "
        "MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"
    )
    assert result.drift == {
        "records": 5,
        "keys": {"mood": {"kind": "unknown", "records": 2}, "ts": {"kind": "missing", "records": 1}},
        "warn": True,
    }
    sqls = [sql for sql, _ in conn.calls]
    manifest_key = "_sparkify/copy-manifests/staging_events/run-1/00000.manifest"
    assert json.loads(eng.s3.objects[manifest_key]) == {"entries": [{"url": f"s3://bucket/{key}", "mandatory": True}]}
    assert sqls[1] == "CREATE TEMP TABLE incoming_staging_events (LIKE staging_events)"
    assert sqls[2] == (
        f"COPY incoming_staging_events (artist, ts) FROM 's3://bucket/{manifest_key}' IAM_ROLE '{ROLE}' "
        f"FORMAT AS JSON 's3://bucket/{EVENTS.jsonpaths_key}' REGION 'us-west-2' "
        "MANIFEST MAXERROR 100000 COMPUPDATE OFF STATUPDATE OFF"
    )
    (errors,) = [params for sql, params in conn.calls if "FROM sys_load_error_detail" in sql]
    assert errors["query_id"] == 42  # the SYS query id of that COPY
    (rejects,) = [
        params for sql, params in conn.calls if sql.startswith("INSERT INTO staging_rejects") and "key_0" in sql
    ]
    assert (rejects["key_0"], rejects["line_0"], rejects["reason_0"]) == (
        "s3://bucket/k",
        3,
        "Invalid digit (column ts)",
    )
    keep = next(
        i for i, sql in enumerate(sqls) if sql.startswith("INSERT INTO staging_events (artist, ts, source_key)")
    )
    assert conn.calls[keep][1]["key"] == key
    assert sqls[keep + 1 : keep + 3] == ["DELETE FROM incoming_staging_events", "DROP TABLE incoming_staging_events"]


def test_refused_lines_must_all_reach_staging_rejects(monkeypatch):
    from include.sparkify.staging import redshift

    monkeypatch.setattr(redshift, "ACCOUNTING_WAIT_SECONDS", 0)
    monkeypatch.setattr(config, "REDSHIFT_IAM_ROLE", ROLE)
    answers = [
        ("PG_LAST_COPY_COUNT", [(5,)]),
        ("FROM sys_load_history", [(42, 5, 3, "s3://bucket/manifest")]),
        ("FROM sys_load_error_detail", [("s3://bucket/k", n, "bad") for n in (1, 2, 3)]),
    ]
    eng, _ = engine(SONGS, answers=answers, rowcounts=[("key_0", 2)])
    with pytest.raises(StagingError, match=r"refused 3 lines \(SYS_LOAD_HISTORY.error_count, query 42\) but .* 2 were"):
        eng.account_for_refused_lines("s3://bucket/m", 5)
    eng, _ = engine(SONGS, answers=answers, rowcounts=[("key_0", 3)])
    assert eng.account_for_refused_lines("s3://bucket/m", 5) == 3
    # the same COPY is not accounted twice: a later COPY must find its own history row
    with pytest.raises(StagingError, match="SYS_LOAD_HISTORY has no record of it"):
        eng.account_for_refused_lines("s3://bucket/m2", 5)


def test_a_drift_count_that_fails_is_logged_and_never_undoes_the_staging(monkeypatch, caplog):
    eng, conn = engine()
    eng.drift_manifest_number = 1

    def refused(objects, number):
        raise RuntimeError("S3 object gone")

    monkeypatch.setattr(eng, "count_drift", refused)
    result = StageResult("staging_events", "redshift")
    eng.after_commit([S3Object("log_data/x.json", 1, "e")], result)  # no exception
    assert result.drift == {"error": "RuntimeError: S3 object gone"}
    assert conn.events[-1] == "rollback" and "schema drift not counted" in caplog.text
    eng.after_commit([], result)  # nothing staged: nothing to count
