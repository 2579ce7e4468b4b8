"""The S3 side of staging (include/sparkify/staging/objects.py), on a fake S3 client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.sparkify.staging.objects import (
    MAX_LISTED_SOURCES,
    S3Object,
    describe_sources,
    fingerprint,
    list_objects,
    read_jsonpaths,
)
from include.sparkify.staging.sources import EVENTS, SONGS, StagingError, StagingRun
from include.sparkify.window import Window
from tests.unit.staging.fakes import FakeS3

# 2018-11-30 23:00 to 2018-12-01 01:00: the day files of Nov 30 and Dec 1.
WINDOW = Window(datetime(2018, 11, 30, 23, tzinfo=UTC), datetime(2018, 12, 1, 1, tzinfo=UTC))
NOV30 = f"{EVENTS.prefix}/2018/11/2018-11-30-events.json"
DEC1 = f"{EVENTS.prefix}/2018/12/2018-12-01-events.json"


def keys(objects: list[S3Object]) -> list[str]:
    return [o.key for o in objects]


def test_an_hourly_events_run_lists_exactly_its_day_files():
    s3 = FakeS3({NOV30: b"{}\n", NOV30 + ".1": b"{}\n", NOV30.replace("30", "29"): b"{}\n"})
    objects, missing, ignored = list_objects(s3, StagingRun(EVENTS, WINDOW, "r", "bucket"))
    assert keys(objects) == [NOV30]  # not the .json.1 backup beside it
    assert objects[0].size == 3 and objects[0].etag and '"' not in objects[0].etag
    assert missing == [DEC1] and ignored == []
    assert s3.listed == [NOV30, DEC1]


def test_a_full_load_keeps_the_json_objects_and_reports_the_others():
    prefix = f"{SONGS.prefix}/"
    s3 = FakeS3(
        {
            f"{prefix}B/b.json": b"{}",
            f"{prefix}A/a.json": b"{}",
            f"{prefix}A/notes.txt": b"x",
            f"{prefix}C/c.json": b"{}",
            f"{prefix}C/c.json.gz": b"x",
            f"{SONGS.prefix}_old/z.json": b"{}",  # another prefix that starts alike
        }
    )
    objects, missing, ignored = list_objects(s3, StagingRun(SONGS, WINDOW, "r", "bucket"))
    assert keys(objects) == [f"{prefix}A/a.json", f"{prefix}B/b.json", f"{prefix}C/c.json"]
    assert missing == [] and sorted(ignored) == [f"{prefix}A/notes.txt", f"{prefix}C/c.json.gz"]


def test_a_full_events_load_lists_the_whole_prefix():
    s3 = FakeS3({NOV30: b"{}", DEC1: b"{}"})
    objects, missing, _ = list_objects(s3, StagingRun(EVENTS, Window(), "r", "bucket"))
    assert keys(objects) == [NOV30, DEC1] and missing == []
    assert list_objects(FakeS3({}), StagingRun(SONGS, Window(), "r", "bucket")) == ([], [], [])


def test_fingerprint_changes_iff_key_size_or_etag_changes():
    base = [S3Object("a.json", 10, "e1"), S3Object("b.json", 20, "e2")]
    assert fingerprint(base) == fingerprint([S3Object("a.json", 10, "e1"), S3Object("b.json", 20, "e2")])
    changed = [
        [S3Object("a2.json", 10, "e1"), base[1]],
        [S3Object("a.json", 11, "e1"), base[1]],
        [S3Object("a.json", 10, "e9"), base[1]],
        base[:1],
        [*base, S3Object("c.json", 0, "")],
    ]
    prints = {fingerprint(base), *(fingerprint(c) for c in changed)}
    assert len(prints) == 1 + len(changed)


def test_describe_sources_lists_a_few_and_summarises_many():
    run = StagingRun(SONGS, Window(), "r", "bucket")
    few = [S3Object(f"{SONGS.prefix}/{i}.json", i, "") for i in range(MAX_LISTED_SOURCES)]
    assert describe_sources(run, few) == [f"s3://bucket/{SONGS.prefix}/{i}.json" for i in range(MAX_LISTED_SOURCES)]
    many = [*few, S3Object(f"{SONGS.prefix}/x.json", 100, "")]
    total = sum(range(MAX_LISTED_SOURCES)) + 100
    assert describe_sources(run, many) == [
        f"s3://bucket/{SONGS.prefix}/ ({MAX_LISTED_SOURCES + 1} objects, {total} bytes)"
    ]
    assert describe_sources(run, []) == []


def test_read_jsonpaths():
    s3 = FakeS3({"paths.json": b'{"jsonpaths": ["$[\'artist\']", "$.a.b"]}'})
    assert read_jsonpaths(s3, "bucket", "paths.json") == [["artist"], ["a", "b"]]


@pytest.mark.parametrize("body", [b"not json", b'{"paths": []}', b"[1]", b'{"jsonpaths": null}', b'{"jsonpaths": [1]}'])
def test_a_file_that_is_not_a_jsonpaths_file_is_refused(body):
    with pytest.raises(StagingError, match=r"s3://bucket/p\.json is not a jsonpaths file"):
        read_jsonpaths(FakeS3({"p.json": body}), "bucket", "p.json")


def test_a_missing_jsonpaths_file_is_refused():
    with pytest.raises(StagingError, match=r"s3://bucket/p\.json does not exist"):
        read_jsonpaths(FakeS3({}), "bucket", "p.json")
