"""How the PostgreSQL engine reads S3 objects (include/sparkify/staging/postgres.py)."""

from __future__ import annotations

import pytest

from include.sparkify.staging import postgres
from include.sparkify.staging.lines import ARRAY_FILE
from include.sparkify.staging.objects import S3Object
from include.sparkify.staging.postgres import PostgresEngine
from include.sparkify.staging.sources import SONGS, StagingRun
from include.sparkify.window import Window
from tests.unit.staging.fakes import FakeS3

ARRAY = b'\xef\xbb\xbf \n[{"a": 1},\n {"a": 2}]\n'
LINES = b'{"a": 1}\n\n{"a": 2}'
# What each file reads as: (line number, reject reason, record). An array file is one
# rejected record (Redshift's COPY reads it as one), holding the file's start on one line.
ARRAY_RECORDS = [(1, ARRAY_FILE, b'\xef\xbb\xbf \\n[{"a": 1},\\n {"a": 2}]\\n', (None, None))]
LINES_RECORDS = [(1, b"", b'{"a": 1}', None), (3, b"", b'{"a": 2}', None)]


def read(s3: FakeS3) -> list[tuple[str, list]]:
    objects = [S3Object(key, len(data), "") for key, data in sorted(s3.objects.items())]
    engine = PostgresEngine(StagingRun(SONGS, Window(), "run-1", "bucket"), None, s3)
    out = []
    for idx, obj, records in engine._read(objects):
        assert obj is objects[idx]
        out.append((obj.key, list(records)))
    return out


def test_an_array_file_is_one_record_and_a_lines_file_is_lines():
    s3 = FakeS3({"a.json": ARRAY, "b.json": LINES, "c.json": b""})
    assert read(s3) == [("a.json", ARRAY_RECORDS), ("b.json", LINES_RECORDS), ("c.json", [])]
    assert all(
        body.reads == [postgres.SMALL_OBJECT + 1] and body.closed for body in s3.bodies.values()
    )  # small: one bounded read


@pytest.mark.parametrize(
    ("data", "records"),
    [(LINES, LINES_RECORDS)],
)
def test_a_large_object_is_streamed_in_chunks(monkeypatch, data, records):
    monkeypatch.setattr(postgres, "SMALL_OBJECT", 4)
    monkeypatch.setattr(postgres, "CHUNK", 3)
    s3 = FakeS3({"big.json": data})
    assert read(s3) == [("big.json", records)]
    body = s3.bodies["big.json"]
    assert set(body.reads) == {3} and len(body.reads) == len(data) // 3 + 1 + (len(data) % 3 > 0)
    assert body.closed


def test_a_large_array_file_is_not_read_past_its_start(monkeypatch):
    monkeypatch.setattr(postgres, "SMALL_OBJECT", 4)
    monkeypatch.setattr(postgres, "CHUNK", 3)
    s3 = FakeS3({"big.json": b"[" + b'{"a": 1},' * 1000 + b"]"})
    ((_, ((number, reason, text, _),)),) = read(s3)
    assert (number, reason, text) == (1, ARRAY_FILE, b'[{"')
    assert len(s3.bodies["big.json"].reads) == 1 and s3.bodies["big.json"].closed


def test_many_objects_come_back_in_order(monkeypatch):
    monkeypatch.setattr(postgres, "SMALL_OBJECT", 10)  # some fetched whole, some streamed
    s3 = FakeS3({f"{i:03}.json": b'{"i": %d}\n' % i + b" " * (i % 3) * 5 for i in range(50)})
    got = read(s3)
    assert [key for key, _ in got] == [f"{i:03}.json" for i in range(50)]
    assert [records for _, records in got] == [[(1, b"", b'{"i": %d}' % i, None)] for i in range(50)]


def test_a_streamed_array_with_a_blank_first_chunk_is_still_an_array(monkeypatch):
    monkeypatch.setattr(postgres, "SMALL_OBJECT", 4)
    monkeypatch.setattr(postgres, "CHUNK", 3)
    # the chunks read until the first non-blank byte are the record's text
    assert read(FakeS3({"big.json": ARRAY})) == [("big.json", [(1, ARRAY_FILE, b"\xef\xbb\xbf \\n[", (None, None))])]
