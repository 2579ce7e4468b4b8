"""Stand-ins for the services staging talks to: an S3 client and a DB-API connection."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from types import SimpleNamespace

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, by date arithmetic (not datetime.timestamp)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.reads, self.closed = data, 0, [], False

    def read(self, amt: int | None = None) -> bytes:
        self.reads.append(amt)
        end = len(self.data) if amt is None else self.pos + amt
        out, self.pos = self.data[self.pos : end], min(end, len(self.data))
        return out

    def close(self) -> None:
        self.closed = True


class FakeS3:
    """``get_paginator('list_objects_v2').paginate(...)`` over a dict of key -> bytes
    (``page_size`` keys a page, S3's order), and ``get_object``."""

    class exceptions:
        class NoSuchKey(Exception):
            pass

    # AWS's endpoint: objects are read through get_object (staging/fetch.py)
    meta = SimpleNamespace(endpoint_url="https://s3.us-east-1.amazonaws.com", region_name="us-east-1")

    def __init__(self, objects: dict[str, bytes], page_size: int = 2) -> None:
        self.objects, self.page_size = objects, page_size
        self.listed: list[str] = []  # the prefixes asked for
        self.bodies: dict[str, FakeBody] = {}

    def get_paginator(self, name: str) -> FakeS3:
        assert name == "list_objects_v2"
        return self

    def paginate(self, Bucket: str, Prefix: str):
        self.listed.append(Prefix)
        keys = sorted(k for k in self.objects if k.startswith(Prefix))
        if not keys:
            yield {"KeyCount": 0}  # S3 leaves Contents out of an empty page
        for i in range(0, len(keys), self.page_size):
            yield {"Contents": [self.item(k) for k in keys[i : i + self.page_size]]}

    def item(self, key: str) -> dict:
        data = self.objects[key]
        return {"Key": key, "Size": len(data), "ETag": f'"{hashlib.md5(data).hexdigest()}"'}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict:
        self.objects[Key] = Body
        return {}

    def get_object(self, Bucket: str, Key: str) -> dict:
        if Key not in self.objects:
            raise self.exceptions.NoSuchKey(Key)
        self.bodies[Key] = FakeBody(self.objects[Key])
        return {"Body": self.bodies[Key]}


class Cursor:
    def __init__(self, conn: Recorder) -> None:
        self.conn, self.description, self.rows, self.rowcount = conn, None, None, -1

    def execute(self, sql: str, params: dict | None = None) -> None:
        self.conn.calls.append((sql, params))
        self.rows = next((rows for needle, rows in self.conn.answers if needle in sql), None)
        self.description = None if self.rows is None else [("column",)]
        self.rowcount = next((n for needle, n in self.conn.rowcounts if needle in sql), -1)

    def fetchall(self) -> list[tuple]:
        return self.rows

    def close(self) -> None:
        pass


class Recorder:
    """A DB-API connection that records ``(sql, params)`` of each execute and answers the
    first ``(needle, rows)`` whose needle is in the SQL (no rows, no description otherwise)."""

    def __init__(
        self, answers: list[tuple[str, list[tuple]]] | None = None, rowcounts: list[tuple[str, int]] | None = None
    ) -> None:
        self.answers = answers or []
        self.rowcounts = rowcounts or []  # (needle, the rowcount a statement containing it reports)
        self.calls: list[tuple[str, dict | None]] = []
        self.events: list[str] = []

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        self.events.append("commit")

    def rollback(self) -> None:
        self.events.append("rollback")

    def close(self) -> None:
        self.events.append("close")
