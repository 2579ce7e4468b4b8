"""The columnar path's COPY: the objects of a staging load that Arrow finds plainly valid
(columnar.py), fetched, converted and encoded as CSV a few ahead of the ``COPY`` that takes
them; the others are handed back, in order, to the row path (postgres.py)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from include.sparkify import config
from include.sparkify.staging.columnar import MAX_OBJECT_BYTES, MIN_OBJECT_BYTES, ColumnarConverter, Converted

# Objects converted side by side while the COPY takes the one before them. Two, measured on the
# staging benchmark here (six runs each, alternating): median 8.45 s against 9.18 s with one
# object ahead parsed by Arrow's own threads. At most AHEAD + 1 objects are held at a time.
AHEAD = 2
# glibc's malloc threshold above which a block is its own mapping, given back when freed.
# glibc raises it to the size of each such block freed (up to 32 MiB), so object-sized
# buffers would then come from the heap and stay in the process (peak RSS of the staging
# benchmark with two objects ahead: 330-336 MB; with the threshold fixed: 290-300 MB).
M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES = -3, 1 << 20


def give_large_blocks_back() -> None:
    """Fix glibc's mmap threshold (``mallopt``); nothing on a C library without it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def convert_all(
    fetch: Callable[[object], bytes], objects: list, converter: ColumnarConverter, max_record_bytes: int
) -> Iterator[tuple[object, Converted]]:
    """Each object with its conversion (encoded: ``converter.encode``), in order; the next
    AHEAD objects are fetched and converted in other threads while the caller writes this
    one (Arrow releases the GIL)."""

    def work(obj) -> Converted:
        if not MIN_OBJECT_BYTES <= obj.size <= MAX_OBJECT_BYTES:
            return Converted(None, why_not="size")
        return converter.encode(converter.convert(fetch(obj), obj.key, max_record_bytes))

    with ThreadPoolExecutor(AHEAD) as pool:
        pending = []
        for obj in objects:
            pending.append((obj, pool.submit(work, obj)))
            if len(pending) > AHEAD:
                done, future = pending.pop(0)
                yield done, future.result()
        for done, future in pending:
            yield done, future.result()


def copy_plain_objects(conn, s3, bucket: str, objects: list, converter: ColumnarConverter, csv_copy, result, log):
    """COPY (``csv_copy``, on ``conn``) the objects Arrow finds plainly valid, counting them in
    ``result``; returns the others, in order, for the row path."""

    def fetch(obj) -> bytes:
        body = s3.get_object(Bucket=bucket, Key=obj.key)["Body"]
        try:
            return body.read(MAX_OBJECT_BYTES + 1)
        finally:
            body.close()

    give_large_blocks_back()
    rest = []
    cur = conn.cursor()
    with cur.copy(csv_copy) as copy:
        for obj, converted in convert_all(fetch, objects, converter, config.MAX_RECORD_BYTES):
            if converted.csv is None:
                rest.append(obj)
                if converted.why_not != "size":
                    log.info("%s: staged row by row (%s).", obj.key, converted.why_not)
                continue
            copy.write(converted.csv)
            result.objects += 1
            result.bytes += obj.size
            result.records += converted.rows
            result.rows += converted.rows
    cur.close()
    return rest
