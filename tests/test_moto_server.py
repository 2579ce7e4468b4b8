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
