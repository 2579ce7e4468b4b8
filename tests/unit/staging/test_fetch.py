"""staging/fetch.py: on an http:// S3 stand-in, an object is read by one signed GET with
the bytes boto3 reads, and anything but a 200 is read again through boto3 (so it fails with
boto3's error); on AWS's https endpoint every object is read through boto3. moto's server
runs in a thread of this process (its own IAM checks the signature in one test)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from include.sparkify.staging.fetch import GetSigner, ObjectReader, listed_page
from tests.unit.staging.fakes import FakeS3

BUCKET = "sparkify-fetch"
OBJECTS = {
    "song_data/A/B/C/TRABCAJ12903CDFCC2.json": b'{"song_id": "S1", "title": 66}',
    "log_data/2018/11/2018-11-01-events.json": '{"artist": "Beyoncé"}\n{"ts": 2}'.encode(),
    "empty.json": b"",
    "odd keys/x=1+y~z é.json": b"{}",
    "odd keys/a&b <c> %41 'd'.json": b"[]",
    "big.json": b"x" * 100_000,
}
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class Hook:
    """What ObjectReader asks of the S3Hook: credentials."""

    def __init__(self, **credentials) -> None:
        self.session = boto3.session.Session(region_name="us-east-1", **credentials)

    def get_credentials(self, region_name: str | None = None):
        return self.session.get_credentials().get_frozen_credentials()


class Counting:
    """An S3 client that counts its get_object calls."""

    def __init__(self, client) -> None:
        self.client, self.gets = client, []
        self.meta, self.exceptions = client.meta, client.exceptions

    def generate_presigned_url(self, *args, **kwargs) -> str:
        return self.client.generate_presigned_url(*args, **kwargs)

    def get_object(self, **kwargs) -> dict:
        self.gets.append(kwargs["Key"])
        return self.client.get_object(**kwargs)


@pytest.fixture(scope="module")
def endpoint(monkeypatch_module):
    for name in ("MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch_module.delenv(name, raising=False)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = client(url)
    s3.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    yield url
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def client(url: str, **credentials):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", **(credentials or CREDENTIALS))


def boto3_bytes(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_an_http_stand_in_is_read_by_signed_gets_with_the_bytes_boto3_reads(endpoint):
    s3 = Counting(client(endpoint))
    reader = ObjectReader(s3, Hook(**CREDENTIALS), BUCKET)
    assert reader.direct
    for key in OBJECTS:
        assert reader.read(key, 1 << 20) == boto3_bytes(s3.client, key) == OBJECTS[key], key
    assert s3.gets == []  # none went through boto3


def test_a_limit_reads_the_first_bytes_and_the_next_reads_are_whole(endpoint):
    s3 = Counting(client(endpoint))
    reader = ObjectReader(s3, Hook(**CREDENTIALS), BUCKET)  # one thread: one connection
    assert reader.read("big.json", 10) == b"x" * 10
    for key in ["log_data/2018/11/2018-11-01-events.json", "big.json", "empty.json"]:
        assert reader.read(key, 1 << 20) == OBJECTS[key]
    assert s3.gets == []


def test_a_dead_kept_connection_is_replaced_and_a_refused_one_goes_to_boto3(endpoint):
    s3 = Counting(client(endpoint))
    name = "song_data/A/B/C/TRABCAJ12903CDFCC2.json"
    with ObjectReader(s3, Hook(**CREDENTIALS), BUCKET) as reader:
        assert reader.read(name, 1 << 20) == OBJECTS[name]
        dead = socket.socket()
        dead.close()
        reader._connection().sock = dead  # as if the server had closed the connection it kept
        assert reader.read(name, 1 << 20) == OBJECTS[name]
        assert s3.gets == []
    assert reader.connections == []  # closed with the reader
    with ObjectReader(s3, Hook(**CREDENTIALS), BUCKET) as refused, socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused.port = unused.getsockname()[1]  # bound, not listening: every connection is refused
        assert refused.read(name, 1 << 20) == OBJECTS[name]
        assert not refused.direct  # the rest of the load reads through boto3, without trying again
        assert refused.read(name, 1 << 20) == OBJECTS[name]
    assert s3.gets == [name, name]


def test_an_endpoint_behind_a_proxy_is_read_through_boto3(endpoint, monkeypatch):
    from botocore.config import Config

    for name in ("no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET).direct
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    assert not ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET).direct
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET).direct
    configured = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(proxies={"http": "http://proxy.invalid:3128"}),
        **CREDENTIALS,
    )
    assert not ObjectReader(configured, Hook(**CREDENTIALS), BUCKET).direct


def test_a_missing_key_fails_with_boto3s_error(endpoint):
    s3 = Counting(client(endpoint))
    reader = ObjectReader(s3, Hook(**CREDENTIALS), BUCKET)
    with pytest.raises(s3.exceptions.NoSuchKey):
        reader.read("song_data/missing.json", 1 << 20)
    assert s3.gets == ["song_data/missing.json"]


def test_the_signature_is_one_s3_accepts(endpoint):
    """With moto's IAM checks on: the reader's GET is accepted with the key's secret, and a
    wrong secret is refused (so the reader falls back to boto3, which holds the right one)."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
    iam.create_user(UserName="sparkify-reader")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="sparkify-reader", PolicyName="read", PolicyDocument=json.dumps(policy))
    made = iam.create_access_key(UserName="sparkify-reader")["AccessKey"]
    key = {"aws_access_key_id": made["AccessKeyId"], "aws_secret_access_key": made["SecretAccessKey"]}
    wrong = key | {"aws_secret_access_key": "not-the-secret"}
    name = "song_data/A/B/C/TRABCAJ12903CDFCC2.json"
    with enable_iam_authentication():
        s3 = Counting(client(endpoint, **key))
        for signed in [name, "odd keys/x=1+y~z é.json"]:  # the signed path is the encoded one
            assert ObjectReader(s3, Hook(**key), BUCKET).read(signed, 1 << 20) == OBJECTS[signed]
        assert s3.gets == []
        assert ObjectReader(s3, Hook(**wrong), BUCKET).read(name, 1 << 20) == OBJECTS[name]
        assert s3.gets == [name]
        for prefix in ["odd keys/", "song_data/"]:  # the query string is signed too
            assert ObjectReader(s3, Hook(**key), BUCKET).list(prefix) == boto3_listing(s3.client, prefix)
        assert ObjectReader(s3, Hook(**wrong), BUCKET).list("odd keys/") is None


def boto3_listing(s3, prefix: str) -> list[tuple[str, int, str]]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [(o["Key"], o["Size"], o["ETag"].strip('"')) for page in pages for o in page.get("Contents", [])]


@pytest.fixture(scope="module")
def many_keys(endpoint):
    """1,001 more keys under many/: a listing of them takes two pages of 1,000. Put through
    moto's backend (this process's): 1,001 PUTs would take 11 s here."""
    from moto.s3.models import s3_backends

    backend = next(b["aws"] for b in s3_backends.values() if BUCKET in b["aws"].buckets)
    keys = [f"many/{n:04d}.json" for n in range(1001)]
    for key in keys:
        backend.put_object(BUCKET, key, key.encode())
    return keys


@pytest.mark.parametrize("prefix", ["", "odd keys/", "song_data/A/", "many/", "nothing/"])
def test_a_listing_is_the_keys_sizes_and_etags_boto3_lists(endpoint, many_keys, prefix):
    s3 = Counting(client(endpoint))
    listed = ObjectReader(s3, Hook(**CREDENTIALS), BUCKET).list(prefix)
    assert listed is not None  # listed by the reader itself
    assert listed == boto3_listing(s3.client, prefix)
    if prefix == "many/":
        assert [key for key, _, _ in listed] == many_keys
    if prefix == "odd keys/":
        assert {key for key, _, _ in listed} == {key for key in OBJECTS if key.startswith(prefix)}


def test_a_listing_that_fails_is_left_to_boto3(endpoint):
    with ObjectReader(client(endpoint), Hook(**CREDENTIALS), "sparkify-no-such-bucket") as reader:
        assert reader.direct and reader.list("") is None  # a 404 error document, not a listing
    with ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET) as refused, socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused.port = unused.getsockname()[1]
        assert refused.list("") is None and not refused.direct


@pytest.mark.parametrize("token", [None, "a-session-token"])
def test_a_get_is_signed_as_botocore_signs_it(monkeypatch, token):
    """GetSigner's headers are botocore's S3SigV4Auth's for the same GET at the same second:
    object paths with encoded keys, a listing's query string, with and without a port and a
    session token, across a day boundary (the signing key is derived again)."""
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    credentials = Credentials("AKIDSPARKIFY", "secret/with+chars", token)
    signer = GetSigner(credentials, "us-west-2")
    paths = [
        "/sparkify/song_data/A/B/C/TRABCAJ12903CDFCC2.json",
        "/sparkify/odd%20keys/x%3D1%2By~z%20%C3%A9.json",
        "/sparkify?continuation-token=abc%2Bd%3D&encoding-type=url&list-type=2&prefix=odd%20keys%2F",
    ]
    for now in [datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)]:
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda now=now: now.replace(tzinfo=None))
        for host in ["127.0.0.1:9000", "s3.local"]:
            for path in paths:
                request = AWSRequest("GET", f"http://{host}{path}")
                botocore.auth.S3SigV4Auth(credentials, "s3", "us-west-2").add_auth(request)
                expected = {name.lower(): value for name, value in request.headers.items()}
                got = {name.lower(): value for name, value in signer.headers(host, path, now).items()}
                assert got.pop("host") == host
                assert got == expected, (host, path)


def page_xml(keys: list[tuple[str, str]], encoding: str | None = "url", truncated: bool = False, token=None) -> bytes:
    contents = "".join(
        f"<Contents><Key>{k}</Key><Size>{size}</Size><ETag>&quot;e&quot;</ETag></Contents>" for k, size in keys
    )
    extra = (f"<EncodingType>{encoding}</EncodingType>" if encoding else "") + (
        f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    )
    return (
        f'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>{str(truncated).lower()}'
        f"</IsTruncated>{contents}<Name>b</Name>{extra}</ListBucketResult>"
    ).encode()


def test_a_page_s_keys_are_decoded_only_when_the_answer_says_they_are_encoded():
    keys = [("a+b%41.json", "3")]
    assert listed_page(page_xml(keys))[0] == [("a bA.json", 3, "e")]
    assert listed_page(page_xml(keys, encoding=None))[0] == [("a+b%41.json", 3, "e")]
    assert listed_page(page_xml([("a.json", "x")])) is None  # a size that is not one
    assert listed_page(b"<Error><Code>NoSuchBucket</Code></Error>") is None
    assert listed_page(b"not XML") is None


def test_a_listing_that_cannot_be_followed_is_left_to_boto3(endpoint):
    """Truncated without a token, or the same token again: boto3 lists (and raises its error)."""
    for pages in (
        [page_xml([("a.json", "1")], truncated=True)],
        [
            page_xml([("a.json", "1")], truncated=True, token="t1"),
            page_xml([("b.json", "1")], truncated=True, token="t1"),
        ],
    ):
        reader = ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET)
        answers = iter(pages)
        reader._signed_get = lambda path, limit, answers=answers: next(answers)
        assert reader.list("") is None
    reader = ObjectReader(client(endpoint), Hook(**CREDENTIALS), BUCKET)
    answers = iter([page_xml([("a.json", "1")], truncated=True, token="t1"), page_xml([("b.json", "2")])])
    reader._signed_get = lambda path, limit: next(answers)
    assert reader.list("") == [("a.json", 1, "e"), ("b.json", 2, "e")]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "http://s3.local", "http://s3.local:80", "http://[::1]:9000"])
def test_the_signed_host_is_the_one_botocore_signs(url):
    from botocore.auth import _host_from_url

    assert ObjectReader(client(url), Hook(**CREDENTIALS), BUCKET).host_header == _host_from_url(url)


def test_no_credentials_no_signed_gets(endpoint):
    class Anonymous:
        def get_credentials(self, region_name=None):
            return None

    assert not ObjectReader(client(endpoint), Anonymous(), BUCKET).direct


def test_aws_https_endpoint_is_read_through_boto3():
    s3 = FakeS3({"a.json": b'{"a": 1}'})
    reader = ObjectReader(s3, None, "bucket")
    assert not reader.direct and reader.list("") is None  # boto3 lists
    assert reader.read("a.json", 4) == b'{"a"'
    assert s3.bodies["a.json"].closed
