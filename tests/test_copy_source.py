"""tools/copy_source.py against the S3 stand-in (moto): a source bucket laid out
like s3://udacity-dend, copied server-side into a project bucket, then copied again."""

from __future__ import annotations

import hashlib
import re

import pytest

from tools import copy_source as cs

SOURCE = "udacity-dend"
OBJECTS = {
    "log_data/2018/11/2018-11-01-events.json": b'{"ts":1541105830796,"page":"NextSong"}',
    "log_data/2018/11/2018-11-02-events.json": b'{"ts":1541121934796,"page":"Home"}\n{"ts":1541121935796}',
    "song_data/A/A/A/TRAAAAK128F9318786.json": b'{"song_id":"SOBLFFE12AF72AA5BA","duration":218.93179}',
    "song_data/A/B/C/TRABCEI128F424C983.json": b'{"song_id":"SOFNOQK12AB01840FC","year":0}',
    "log_json_path.json": b'{"jsonpaths": ["$[\'artist\']"]}',
}
NOT_COPIED = {
    "log_json_path.json.bak": b"a neighbour of the jsonpaths key",
    "other/README.json": b"{}",
}


@pytest.fixture
def buckets(stack, request):
    s3 = stack.s3_client()
    dest = f"sparkify-copy-{request.node.name.replace('_', '-')[:30].strip('-').lower()}"
    for bucket in (SOURCE, dest):
        try:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
    for key, body in {**OBJECTS, **NOT_COPIED}.items():
        s3.put_object(Bucket=SOURCE, Key=key, Body=body)
    yield s3, dest
    for bucket in (dest, SOURCE):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])


def contents(s3, bucket: str) -> dict[str, bytes]:
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    return {key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def test_copies_the_three_sources_byte_identical_then_nothing(buckets):
    s3, dest = buckets
    lines: list[str] = []
    first = cs.copy_source(s3, dest, threads=4, progress=lines.append)
    assert (first.listed, first.copied, first.skipped, first.failed) == (len(OBJECTS), len(OBJECTS), 0, [])
    assert first.bytes_copied == sum(len(b) for b in OBJECTS.values())
    assert contents(s3, dest) == OBJECTS
    assert any(line.startswith(f"listed s3://{SOURCE}/song_data/: 2 objects") for line in lines)
    assert f"  {len(OBJECTS)}/{len(OBJECTS)} done: {len(OBJECTS)} copied, 0 skipped, 0 failed" in " ".join(lines)

    lines.clear()
    second = cs.copy_source(s3, dest, threads=4, progress=lines.append)
    assert (second.copied, second.skipped) == (0, len(OBJECTS))
    assert lines[-1] == f"nothing to copy: 0 of {len(OBJECTS)} objects"
    assert contents(s3, dest) == OBJECTS


def test_a_changed_source_object_is_copied_again(buckets):
    s3, dest = buckets
    cs.copy_source(s3, dest, progress=None)
    grown = "log_data/2018/11/2018-11-01-events.json"
    same_size = "song_data/A/B/C/TRABCEI128F424C983.json"
    changed = {grown: OBJECTS[grown] + b'\n{"ts":1}', same_size: OBJECTS[same_size].replace(b"year", b"YEAR")}
    assert len(changed[same_size]) == len(OBJECTS[same_size])  # only the ETag tells
    for key, body in changed.items():
        s3.put_object(Bucket=SOURCE, Key=key, Body=body)
    result = cs.copy_source(s3, dest, progress=None)
    assert (result.copied, result.skipped) == (2, len(OBJECTS) - 2)
    assert contents(s3, dest) == {**OBJECTS, **changed}


def test_large_objects_use_the_multipart_copy_and_are_skipped_next_time(buckets):
    s3, dest = buckets
    big = bytes(range(256)) * (6 * 1024 * 4)  # 6 MiB: two parts of the 5 MiB minimum
    s3.put_object(Bucket=SOURCE, Key="song_data/big.json", Body=big)
    first = cs.copy_source(s3, dest, items=["song_data/"], large_object=1024**2, progress=None)
    assert first.copied == 3
    head = s3.head_object(Bucket=dest, Key="song_data/big.json")
    assert head["ETag"].endswith('-2"')  # really multipart: its own ETag ...
    assert (
        hashlib.md5(s3.get_object(Bucket=dest, Key="song_data/big.json")["Body"].read()).digest()
        == hashlib.md5(big).digest()
    )
    second = cs.copy_source(s3, dest, items=["song_data/"], large_object=1024**2, progress=None)
    assert (second.copied, second.skipped) == (0, 3)  # ... so the recorded source ETag decides


def test_cli_prints_progress_and_supports_a_dry_run(buckets, stack, capsys, monkeypatch):
    from dev.stack import AWS_KEY_ID, AWS_REGION, AWS_SECRET

    s3, dest = buckets
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    base = ["--bucket", dest, "--endpoint-url", stack.s3_endpoint, "--region", AWS_REGION, "--threads", "2"]
    assert cs.main([*base, "--dry-run"]) == 0
    assert contents(s3, dest) == {}
    assert f"dry run: would copy {len(OBJECTS)} of {len(OBJECTS)} objects" in capsys.readouterr().out
    assert cs.main(base) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.search(
        rf"done: {len(OBJECTS)} copied, 0 already there, 0 failed of {len(OBJECTS)} objects in \d+s$", out[-1]
    )
    assert all(line.startswith("[") for line in out)  # every line time-stamped
    assert contents(s3, dest) == OBJECTS


def test_a_wrong_source_bucket_is_a_clear_error(buckets):
    s3, dest = buckets
    s3.create_bucket(Bucket="sparkify-empty-source", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    with pytest.raises(SystemExit, match="nothing found in s3://sparkify-empty-source/"):
        cs.copy_source(s3, dest, src_bucket="sparkify-empty-source", progress=None)


def test_default_items_follow_the_pipeline_settings(monkeypatch):
    from include.sparkify import config

    assert cs.default_items() == [f"{config.LOG_PREFIX}/", f"{config.SONG_PREFIX}/", config.LOG_JSONPATHS_KEY]
    # The settings config read from the environment (SPARKIFY_SONG_PREFIX, ...), not a copy of them.
    monkeypatch.setattr(config, "SONG_PREFIX", "songs")
    monkeypatch.setattr(config, "LOG_JSONPATHS_KEY", "paths/log.json")
    assert cs.default_items() == [f"{config.LOG_PREFIX}/", "songs/", "paths/log.json"]
