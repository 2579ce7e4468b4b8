"""The local S3 stand-in's shortcut for a plain GetObject (dev/moto_fast_get.py, `fast_get`)
answers as moto does: the same status, headers and body for every object a plain GET can
fetch, and no answer (moto takes the request) for anything else. moto runs in this process
(`mock_aws`): as boto3 sees it, and as its server's WSGI application (patched as
dev/moto_server.py runs it) answers with the shortcut and without."""

from __future__ import annotations

import io

import pytest
from botocore.config import Config

from dev.moto_fast_get import fast_get
from tests.moto_in_process import client, in_process_moto

BUCKET = "sparkify-fast-get"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20261130/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"
)
OBJECTS = {
    "song_data/A/B/C/TRABCAJ12903CDFCC2.json": (b'{"song_id": "S1", "title": 66}', {}),
    "log_data/2018/11/2018-11-01-events.json": ('{"artist": "Beyoncé"}\n{"ts": 2}'.encode(), {}),
    "empty.json": (b"", {}),
    "typed/x=1+y.json": (b"{}", {"ContentType": "application/json", "Metadata": {"origin": "test"}}),
}
# Differ between two answers to the same request, whoever gives them.
PER_ANSWER = {"date", "server", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}
# What moto's server adds to every answer (flask_cors, origins "*"), and boto3 never sees in-process.
SERVER_ONLY = {"access-control-allow-origin"}


@pytest.fixture(scope="module")
def s3():
    """One moto for the module (starting one takes about a second): BUCKET holds OBJECTS and
    is never changed; a test that changes a bucket makes one of its own (`own_bucket`)."""
    with in_process_moto():
        s3 = client()
        s3.create_bucket(Bucket=BUCKET)
        for key, (body, extra) in OBJECTS.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        yield s3


def own_bucket(s3, name: str) -> str:
    bucket = f"{BUCKET}-{name}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=KEY, Body=OBJECTS[KEY][0])
    assert answer(environ(f"/{bucket}/{KEY}")) is not None  # a plain GET of it, until the test changes it
    return bucket


def environ(path: str, **headers) -> dict:
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_HOST": "127.0.0.1:5000",
        "HTTP_AUTHORIZATION": AUTH,
        "HTTP_X_AMZ_CHECKSUM_MODE": "ENABLED",
        "wsgi.input": io.BytesIO(),
    }
    env.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return env


def answer(env: dict):
    """fast_get's answer as (status, {header: value}, body), or None."""
    started = {}

    def start_response(status, headers):
        started["status"], started["headers"] = status, {k.lower(): v for k, v in headers}

    body = fast_get(env, start_response)
    return None if body is None else (started["status"], started["headers"], b"".join(body))


@pytest.mark.parametrize("key", sorted(OBJECTS))
def test_a_plain_get_is_answered_as_moto_answers_it(s3, key):
    fast = answer(environ(f"/{BUCKET}/{key}"))
    assert fast is not None, "the shortcut did not take a plain GET"
    status, headers, body = fast
    moto = s3.get_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    moto_headers = moto["ResponseMetadata"]["HTTPHeaders"]
    assert (status, body) == ("200 OK", moto["Body"].read())
    assert body == OBJECTS[key][0]
    assert {k: v for k, v in headers.items() if k not in PER_ANSWER | SERVER_ONLY} == {
        k: v for k, v in moto_headers.items() if k not in PER_ANSWER
    }
    assert len(headers["x-amzn-requestid"]) == len(moto_headers["x-amzn-requestid"])


def test_without_checksum_mode_no_checksum_is_sent(s3):
    env = environ(f"/{BUCKET}/empty.json")
    del env["HTTP_X_AMZ_CHECKSUM_MODE"]
    _, headers, _ = answer(env)
    plain = client(config=Config(response_checksum_validation="when_required"))  # else boto3 asks for the checksum
    moto = plain.get_object(Bucket=BUCKET, Key="empty.json")["ResponseMetadata"]["HTTPHeaders"]
    assert not [h for h in headers if h.startswith("x-amz-checksum-")]
    assert not [h for h in moto if h.startswith("x-amz-checksum-")]


KEY = "song_data/A/B/C/TRABCAJ12903CDFCC2.json"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param(environ(f"/{BUCKET}/{KEY}", range="bytes=0-3"), id="a range"),
        pytest.param(environ(f"/{BUCKET}/{KEY}", if_none_match='"x"'), id="a condition"),
        pytest.param(environ(f"/{BUCKET}/{KEY}", origin="http://example.com"), id="CORS"),
        pytest.param(environ(f"/{BUCKET}/{KEY}", x_moto_account_id="111111111111"), id="another account"),
        pytest.param({**environ(f"/{BUCKET}/{KEY}"), "QUERY_STRING": "tagging"}, id="a query"),
        pytest.param({**environ(f"/{BUCKET}/{KEY}"), "REQUEST_METHOD": "HEAD"}, id="HEAD"),
        pytest.param({**environ(f"/{KEY}"), "HTTP_HOST": f"{BUCKET}.localhost:5000"}, id="virtual-hosted"),
        pytest.param({**environ(f"/{BUCKET}/{KEY}"), "HTTP_AUTHORIZATION": ""}, id="anonymous"),
        pytest.param(environ(f"/{BUCKET}/song_data/missing.json"), id="a missing key"),
        pytest.param(environ("/no-such-bucket/x.json"), id="a missing bucket"),
        pytest.param(environ(f"/{BUCKET}/log data/a b.json"), id="a key that needs decoding"),
    ],
)
def test_anything_but_a_plain_get_of_an_object_is_left_to_moto(s3, env):
    assert answer(env) is None


def test_an_object_over_max_bytes_is_left_to_moto(s3):
    size = len(OBJECTS[KEY][0])
    for limit, answered in [(size, True), (size - 1, False)]:
        given = fast_get(environ(f"/{BUCKET}/{KEY}"), lambda status, headers: None, max_bytes=limit)
        assert (given is not None) is answered, limit


def test_another_account_by_environment_is_left_to_moto(s3, monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    assert answer(environ(f"/{BUCKET}/{KEY}")) is None


def test_a_versioned_bucket_is_left_to_moto(s3):
    bucket = own_bucket(s3, "versioned")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert answer(environ(f"/{bucket}/{KEY}")) is None


def test_a_bucket_with_a_policy_or_access_logging_is_left_to_moto(s3):
    bucket = own_bucket(s3, "policy")
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", '
    policy += f'"Resource": "arn:aws:s3:::{bucket}/*"}}]}}'
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert answer(environ(f"/{bucket}/{KEY}")) is None

    bucket, logs = own_bucket(s3, "logged"), f"{BUCKET}-logs"
    s3.create_bucket(Bucket=logs)
    s3.put_bucket_acl(Bucket=logs, ACL="log-delivery-write")
    s3.put_bucket_logging(
        Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "x/"}}
    )
    assert answer(environ(f"/{bucket}/{KEY}")) is None


def test_moto_s_server_answers_a_plain_get_through_the_shortcut_as_it_answers_without(s3, monkeypatch):
    """dev/moto_server.py's patched server application: a plain GET goes to fast_get, and its
    answer equals the one moto's own handler gives to the same GET with a condition that
    always holds (If-None-Match of another ETag), which the shortcut leaves to moto."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    from dev import moto_server

    for name in ("__call__", "get_backend_for_host"):  # patch_moto replaces them: restored after the test
        monkeypatch.setattr(DomainDispatcherApplication, name, getattr(DomainDispatcherApplication, name))
    answered = []

    def counted(environ, start_response):
        answer = fast_get(environ, start_response)
        answered.append(answer is not None)
        return answer

    monkeypatch.setattr(moto_server, "fast_get", counted)
    moto_server.patch_moto()
    client = Client(DomainDispatcherApplication(create_backend_app))
    sent = {"Host": "127.0.0.1:5000", "Authorization": AUTH, "x-amz-checksum-mode": "ENABLED"}
    for key in sorted(OBJECTS):
        fast = client.get(f"/{BUCKET}/{key}", headers=sent)
        moto = client.get(f"/{BUCKET}/{key}", headers={**sent, "If-None-Match": '"another"'})
        assert answered[-2:] == [True, False], key
        assert (fast.status, fast.data) == (moto.status, moto.data) == ("200 OK", OBJECTS[key][0])

        def comparable(response):
            return {k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_ANSWER}

        assert comparable(fast) == comparable(moto), key
        assert len(fast.headers["x-amzn-requestid"]) == len(moto.headers["x-amzn-requestid"])
