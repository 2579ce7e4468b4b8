"""The columnar path's COPY: the objects of a staging load that Arrow finds plainly valid
(columnar.py), fetched and converted one ahead of the ``COPY`` that takes them; the others
are handed back, in order, to the row path (postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from include.sparkify import config
from include.sparkify.staging.columnar import MAX_OBJECT_BYTES, MIN_OBJECT_BYTES, ColumnarConverter, Converted


def convert_all(
    fetch: Callable[[object], bytes], objects: list, converter: ColumnarConverter, max_record_bytes: int
) -> Iterator[tuple[object, Converted]]:
    """Each object with its conversion, in order; the next one is fetched and converted in a
    second thread while the caller writes this one (Arrow releases the GIL). One ahead only:
    at most two objects are held whole at a time."""

    def work(obj) -> Converted:
        if not MIN_OBJECT_BYTES <= obj.size <= MAX_OBJECT_BYTES:
            return Converted(None, why_not="size")
        return converter.convert(fetch(obj), obj.key, max_record_bytes)

    with ThreadPoolExecutor(1) as pool:
        ahead = None
        for obj in objects:
            current, ahead = ahead, (obj, pool.submit(work, obj))
            if current is not None:
                yield current[0], current[1].result()
        if ahead is not None:
            yield ahead[0], ahead[1].result()


def copy_plain_objects(conn, s3, bucket: str, objects: list, converter: ColumnarConverter, csv_copy, result, log):
    """COPY (``csv_copy``, on ``conn``) the objects Arrow finds plainly valid, counting them in
    ``result``; returns the others, in order, for the row path."""

    def fetch(obj) -> bytes:
        body = s3.get_object(Bucket=bucket, Key=obj.key)["Body"]
        try:
            return body.read(MAX_OBJECT_BYTES + 1)
        finally:
            body.close()

    rest = []
    cur = conn.cursor()
    with cur.copy(csv_copy) as copy:
        for obj, converted in convert_all(fetch, objects, converter, config.MAX_RECORD_BYTES):
            if converted.table is None:
                rest.append(obj)
                if converted.why_not != "size":
                    log.info("%s: staged row by row (%s).", obj.key, converted.why_not)
                continue
            converted.write_csv(copy.write)
            result.objects += 1
            result.bytes += obj.size
            result.records += converted.rows
            result.rows += converted.rows
    cur.close()
    return rest
