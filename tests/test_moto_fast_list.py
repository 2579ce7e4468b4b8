"""The local S3 stand-in's ListObjectsV2 answer (dev/moto_fast_list.py) is moto's own, byte
for byte: moto runs in this process (`mock_aws`), and each listing is asked for with the
shortcut installed and without it."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.handlers import set_list_objects_encoding_type_url
from moto.s3.responses import S3Response

from dev import moto_fast_list
from tests.moto_in_process import client, in_process_moto

BUCKET = "sparkify-fast-list"
KEYS = [
    "song_data/A/B/C/TRABCAJ12903CDFCC2.json",
    "song_data/A/B/D/TRABDAJ12903CDFCC3.json",
    "song_data/A/top.json",
    "log_data/2018/11/2018-11-01-events.json",
    "odd/a & b <c> \"d\" 'e'.json",
    "odd/Beyoncé ünïcode.json",
    "odd/x=1+y%41?z.json",
    "odd/ space .json",
]
PER_ANSWER = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2"}


@pytest.fixture(scope="module")
def s3():
    with in_process_moto():
        s3 = client()
        s3.create_bucket(Bucket=BUCKET)
        plain = client(config=Config(request_checksum_calculation="when_required"))  # no checksum, as seeding puts
        for key in KEYS:
            plain.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        s3.put_object(Bucket=BUCKET, Key="sums/crc32.json", Body=b"{}")  # boto3's default: CRC32
        s3.put_object(Bucket=BUCKET, Key="sums/sha256.json", Body=b"{}", ChecksumAlgorithm="SHA256")
        yield s3


def raw_answer(client, fast: bool, url_encoded: bool = True, **params) -> tuple[int, dict, bytes]:
    """The HTTP answer moto gives a ListObjectsV2, before botocore parses it."""
    seen = []

    def keep(response_dict, **_):
        seen.append(response_dict)

    events = client.meta.events
    events.register("before-parse.s3.ListObjectsV2", keep)
    if not url_encoded:
        events.unregister("before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url)
    if fast:
        moto_fast_list.install()
    try:
        client.list_objects_v2(Bucket=BUCKET, **params)
    finally:
        S3Response.serialized = ORIGINAL
        events.unregister("before-parse.s3.ListObjectsV2", keep)
        if not url_encoded:
            events.register("before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url)
    (response,) = seen
    headers = {k.lower(): v for k, v in response["headers"].items() if k.lower() not in PER_ANSWER}
    return response["status_code"], headers, response["body"]


ORIGINAL = S3Response.serialized


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"Prefix": "song_data/"},
        {"Prefix": "odd/"},
        {"MaxKeys": 2},
        {"MaxKeys": 2, "StartAfter": "odd/"},
        {"Delimiter": "/"},
        {"Delimiter": "/", "Prefix": "song_data/A/"},
        {"Prefix": "nothing/"},
        {"FetchOwner": True},  # an Owner per key: moto's serialiser writes the answer
        {"Prefix": "sums/"},  # keys with a checksum algorithm
    ],
    ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "all",
)
@pytest.mark.parametrize("url_encoded", [True, False], ids=["encoding-type=url", "no-encoding-type"])
def test_a_listing_is_moto_s_own_answer_byte_for_byte(s3, params, url_encoded):
    assert raw_answer(s3, True, url_encoded, **params) == raw_answer(s3, False, url_encoded, **params)


def test_installed_twice_it_answers_once_and_a_prettified_answer_is_moto_s(s3, monkeypatch):
    from moto import settings

    try:
        moto_fast_list.install()
        installed = S3Response.serialized
        moto_fast_list.install()
        assert S3Response.serialized is installed
    finally:
        S3Response.serialized = ORIGINAL
    monkeypatch.setattr(settings, "PRETTIFY_RESPONSES", True)
    assert raw_answer(s3, True, Prefix="odd/") == raw_answer(s3, False, Prefix="odd/")


def test_a_continued_listing_is_moto_s_own_answer(s3):
    first = s3.list_objects_v2(Bucket=BUCKET, MaxKeys=3)
    token = first["NextContinuationToken"]
    fast = raw_answer(s3, True, ContinuationToken=token, MaxKeys=3)
    assert fast == raw_answer(s3, False, ContinuationToken=token, MaxKeys=3)
    assert b"<Contents>" in fast[2]


def test_plain_keys_are_written_here_and_others_left_to_moto():
    """The keys this shortcut writes itself: without the check here, the comparisons above would
    also pass if it wrote none (moto's answer every time)."""
    plain = {"Key": "a&b", "LastModified": "2026-11-30T09:09:19.000Z", "ETag": '"e"', "Size": 3, "StorageClass": "S"}
    assert moto_fast_list.contents_xml([plain]) == (
        b'<Contents><Key>a&amp;b</Key><LastModified>2026-11-30T09:09:19.000Z</LastModified><ETag>"e"</ETag>'
        b"<Size>3</Size><StorageClass>S</StorageClass></Contents>"
    )
    assert moto_fast_list.contents_xml([{**plain, "ChecksumAlgorithm": ["CRC32"]}]) == (
        b'<Contents><Key>a&amp;b</Key><LastModified>2026-11-30T09:09:19.000Z</LastModified><ETag>"e"</ETag>'
        b"<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><Size>3</Size><StorageClass>S</StorageClass></Contents>"
    )
    assert moto_fast_list.contents_xml([{**plain, "Owner": {"ID": "x"}}]) is None
    assert moto_fast_list.contents_xml([{**plain, "ETag": None}]) is None
    assert moto_fast_list.contents_xml([{**plain, "LastModified": "2026-11-30T09:09:19.123Z"}]) is None
