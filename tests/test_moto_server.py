"""dev/moto_server.py serves moto under uvicorn: a plain GetObject from the event loop
(dev/moto_fast_get.py), every other request from moto's own application, connections kept
open, and S3 metadata names with underscores kept as moto's own server keeps them. The
server runs as dev/stack.py starts it, in a process of its own."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[1]
BUCKET = "sparkify-moto-server"
KEY = "song_data/A/B/C/TRABCAJ12903CDFCC2.json"
BODY = b'{"song_id": "S1", "title": 66}'


@pytest.fixture(scope="module")
def endpoint():
    from dev.stack import free_port, port_open

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL")}
    server = subprocess.Popen(
        [sys.executable, str(REPO / "dev" / "moto_server.py"), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert server.poll() is None, server.stderr.read().decode()
            assert time.monotonic() < deadline, "moto_server.py did not open its port in 60 s"
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port}"
        s3 = client(url)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def client(url: str):
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def signed_headers(url: str, path: str) -> dict:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("GET", url + path)
    S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_plain_gets_share_one_kept_connection(endpoint):
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    path = f"/{BUCKET}/{KEY}"
    sockets = []
    for _ in range(3):
        connection.request("GET", path, headers=signed_headers(endpoint, path))
        answer = connection.getresponse()
        assert (answer.status, answer.read()) == (200, BODY)
        assert answer.getheader("connection", "").lower() != "close"
        assert int(answer.getheader("content-length")) == len(BODY)
        sockets.append(connection.sock)
    connection.close()
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3


def test_what_boto3_sees_of_the_fast_get_is_what_moto_answers(endpoint):
    s3 = client(endpoint)
    got = s3.get_object(Bucket=BUCKET, Key=KEY)  # plain: the shortcut answers
    ranged = s3.get_object(Bucket=BUCKET, Key=KEY, Range="bytes=0-")  # ranged: moto's application answers
    assert got["Body"].read() == BODY and ranged["Body"].read() == BODY
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    for field in ("ContentLength", "ETag", "LastModified", "ContentType"):
        assert got[field] == s3.head_object(Bucket=BUCKET, Key=KEY)[field], field


def test_metadata_names_with_underscores_are_kept(endpoint):
    s3 = client(endpoint)
    metadata = {"my_key": "one", "other-key": "two"}
    s3.put_object(Bucket=BUCKET, Key="meta.json", Body=b"{}", Metadata=metadata)
    assert s3.head_object(Bucket=BUCKET, Key="meta.json")["Metadata"] == metadata
    assert s3.get_object(Bucket=BUCKET, Key="meta.json")["Metadata"] == metadata


def test_every_other_request_reaches_moto(endpoint):
    s3 = client(endpoint)
    s3.put_object(Bucket=BUCKET, Key="gone.json", Body=b"{}")
    s3.delete_object(Bucket=BUCKET, Key="gone.json")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=BUCKET, Key="gone.json")
    listed = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert KEY in [item["Key"] for item in listed] and "gone.json" not in [item["Key"] for item in listed]


def test_keys_with_escapes_and_question_marks_stay_their_keys(endpoint):
    s3 = client(endpoint)
    keys = ["odd/x%41.json", "odd/a?b.json", "odd/c d+e=f.json"]
    for number, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"%d" % number)
    for number, key in enumerate(keys):
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"%d" % number, key
    assert sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="odd/")["Contents"]) == sorted(keys)


def test_a_chunked_upload_keeps_its_body(endpoint):
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = f"/{BUCKET}/chunked.json"
    request = AWSRequest("PUT", endpoint + path, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    host, port = endpoint.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = dict(request.headers.items()) | {"Transfer-Encoding": "chunked"}
    connection.request("PUT", path, body=iter([b'{"part": ', b"1}"]), headers=headers, encode_chunked=True)
    assert connection.getresponse().status == 200
    connection.close()
    assert client(endpoint).get_object(Bucket=BUCKET, Key="chunked.json")["Body"].read() == b'{"part": 1}'


def test_an_object_too_large_for_the_event_loop_is_served_whole(endpoint):
    from dev.moto_server import EVENT_LOOP_MAX_BYTES

    s3 = client(endpoint)
    body = bytes(range(256)) * (EVENT_LOOP_MAX_BYTES // 256 + 1)
    s3.put_object(Bucket=BUCKET, Key="large.bin", Body=body)
    assert s3.get_object(Bucket=BUCKET, Key="large.bin")["Body"].read() == body


def test_the_reader_keeps_one_connection_per_thread(endpoint):
    """include/sparkify/staging/fetch.py against this server: reads share one kept
    connection, and a read cut short by its limit does not spoil the next one."""
    from include.sparkify.staging.fetch import ObjectReader

    class Hook:
        def get_credentials(self, region_name=None):
            from botocore.credentials import ReadOnlyCredentials

            return ReadOnlyCredentials("testing", "testing", None)

    s3 = client(endpoint)
    s3.put_object(Bucket=BUCKET, Key="long.json", Body=b"x" * 1000)
    with ObjectReader(s3, Hook(), BUCKET) as reader:
        assert reader.direct
        reads = [reader.read(KEY, 1 << 20) for _ in range(3)]
        kept = reader._connection().sock
        assert reads == [BODY] * 3 and kept is not None
        assert reader.read(KEY, 1 << 20) == BODY and reader._connection().sock is kept
        assert reader.read("long.json", 10) == b"x" * 10  # the rest is not read: that connection is closed
        assert reader.read(KEY, 1 << 20) == BODY and reader.read("long.json", 1 << 20) == b"x" * 1000
        assert len(reader.connections) == 1


def test_timestamps_are_read_as_botocore_reads_them():
    from botocore.utils import parse_to_aware_datetime

    from dev.moto_server import aware_datetime

    for value in ["2026-11-30T05:26:15.000Z", "2026-11-30T05:26:15+01:00", "2026-11-30", "1700000000", "1700000000.5"]:
        assert aware_datetime(value) == parse_to_aware_datetime(value), value
