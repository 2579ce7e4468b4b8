"""One hostile object through the PostgreSQL engine's reading side, in a process of its own:
an object of one huge line, or one huge JSON array, streamed in 1 MiB chunks from a fake S3
body (no 1 GiB upload to moto) through PostgresEngine._read, split_lines and the suspect
spool, as staging does. Prints seconds and peak RSS as JSON. Used by bench/run.py.

    python -m bench.hostile_once line|array <MiB>
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from types import SimpleNamespace

from bench.stage_once import peak_rss_mb

CHUNK = 1 << 20


class _Body:
    def __init__(self, kind: str, size: int) -> None:
        self.kind, self.size, self.sent = kind, size, 0

    def read(self, amount: int = -1) -> bytes:
        if self.sent >= self.size:
            return b""
        amount = min(CHUNK if amount in (-1, None) else amount, self.size - self.sent)
        if self.sent == 0:
            head = b'[{"a": "' if self.kind == "array" else b'{"a": "'
            data = head + b"x" * (amount - len(head))
        else:
            data = b"x" * amount
        self.sent += amount
        return data

    def close(self) -> None:
        pass


class _S3:
    # AWS's endpoint: the engine reads every object through get_object (staging/fetch.py)
    meta = SimpleNamespace(endpoint_url="https://s3.us-east-1.amazonaws.com", region_name="us-east-1")

    def __init__(self, kind: str, size: int) -> None:
        self.kind, self.size = kind, size

    def get_object(self, Bucket: str, Key: str) -> dict:
        return {"Body": _Body(self.kind, self.size)}


def main(argv: list[str]) -> int:
    from include.sparkify.staging import postgres
    from include.sparkify.staging.objects import S3Object
    from include.sparkify.staging.sources import EVENTS, StagingRun
    from include.sparkify.staging.spool import spool
    from include.sparkify.window import Window

    kind, mib = argv[0], int(argv[1])
    size = mib << 20
    engine = postgres.PostgresEngine(StagingRun(EVENTS, Window(), "bench", "bench"), None, _S3(kind, size))
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    records = 0
    with tempfile.SpooledTemporaryFile(max_size=postgres.SPOOL_IN_MEMORY) as out:
        for idx, _obj, lines in engine._read([S3Object("big.json", size, "")]):
            for number, reason, doc, whole in lines:
                records += 1
                spool(out, idx, number, reason, doc, whole)
        spooled = out.tell()
    print(
        json.dumps(
            {
                "kind": kind,
                "object_mib": mib,
                "records": records,
                "spooled_bytes": spooled,
                "seconds": round(time.perf_counter() - started, 3),
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_mb": rss_before,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
