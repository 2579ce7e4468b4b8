"""The PostgreSQL engine's columnar path: whole log objects parsed by Arrow's JSON reader
(C++, no Python per row) and sent to PostgreSQL as one CSV ``COPY``.

The Python fast path (rows.py) costs about 10 µs a record in one process; PostgreSQL's COPY
of the same rows about 4. An object that is **plainly valid as a whole** skips the Python
loop: Arrow parses it with the staging table's column types, and the checks that make a
record plainly valid run on whole columns. Anything else, an object with even one record
that is not plainly valid, is left entirely to the row path (rows.py, then PostgreSQL's own
parsing for suspects), which decides exactly as before: what is staged, what is rejected and
why, the line numbers and the schema drift. So this path only has to be conservative, like
rows.py: refusing an object costs time, never a different result. Measured side by side,
both ways, in ``make bench`` (``staging_parsers``).

An object is plainly valid, here, when:

* it is small enough to hold whole (``MAX_OBJECT_BYTES``) and large enough to be worth it;
* its bytes are valid UTF-8 with no NUL (raw or ``\\u0000``), no CR, no byte order mark, no
  surrogate escape, and no line longer than the record limit;
* Arrow parses it with the explicit schema, unknown keys an error (so no key beyond the
  mapped ones, no duplicate key, no value of another JSON type: each is an Arrow error), into
  one row per non-blank line;
* every mapped key occurs exactly once per record: ``"key":`` occurs as many times as there
  are records (no duplicates, no nesting, so each record has each key once; no drift);
* every string fits its VARCHAR in bytes, every float is a normal finite number below 2**53
  in magnitude (so an underflow to 0, NaN or a huge integer literal goes to PostgreSQL's
  float8 input, as on the row path), and no row breaks a staging rule (``RULES``).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from include.sparkify import config
from include.sparkify.staging.lines import BOM
from include.sparkify.staging.rows import FLOAT_EXACT_INT

MIN_OBJECT_BYTES = 16 << 10  # smaller objects (a song file) cost more to hand to Arrow than to map
MAX_OBJECT_BYTES = 64 << 20  # larger ones are streamed by the row path: memory stays flat
_ARROW_TYPES = {"character varying": "string", "text": "string", "integer": "int32", "bigint": "int64"}
_ARROW_TYPES |= {"smallint": "int16", "double precision": "float64"}
_VARCHAR = re.compile(r"character varying\((\d+)\)")
_SURROGATE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SMALLEST_NORMAL, _LARGEST = 2.2250738585072014e-308, 1.7976931348623157e308


def _userid_not_a_number(t, pc):
    ok = pc.match_substring_regex(t["userid"], r"^[0-9]{1,9}$")
    return pc.and_kleene(pc.and_kleene(pc.is_valid(t["userid"]), pc.not_equal(t["userid"], "")), pc.invert(ok))


def _next_song(t, pc):
    return pc.equal(t["page"], "NextSong")


# Each staging rule of sources.RULES (by its reason), on a whole table: true where a row may
# break it (NULL counts as true). A row flagged sends its object to the row path, which
# applies the rule itself.
RULE_FLAGS: dict[str, Callable] = {
    "missing ts": lambda t, pc: pc.is_null(t["ts"]),
    "userId is not a user number": _userid_not_a_number,
    "NextSong event without a userId": lambda t, pc: pc.and_kleene(
        _next_song(t, pc), pc.or_kleene(pc.is_null(t["userid"]), pc.equal(t["userid"], ""))
    ),
    "NextSong event without sessionId or itemInSession": lambda t, pc: pc.and_kleene(
        _next_song(t, pc), pc.or_kleene(pc.is_null(t["sessionid"]), pc.is_null(t["iteminsession"]))
    ),
    "missing song_id": lambda t, pc: pc.is_null(t["song_id"]),
    "missing artist_id": lambda t, pc: pc.is_null(t["artist_id"]),
}


def available() -> bool:
    try:
        import pyarrow  # noqa: F401 - only whether it is installed
    except ImportError:
        return False
    return True


@dataclass
class Converted:
    """An object as CSV rows for COPY (``csv`` None: not plainly valid, and why)."""

    csv: bytes | None
    rows: int = 0
    why_not: str = ""


class ColumnarConverter:
    """Turns a plainly valid object into CSV for ``COPY table (columns[, source_key]) FROM STDIN
    (FORMAT csv)``; anything else into a refusal (``Converted.csv`` None)."""

    def __init__(self, columns: list[tuple[str, str]], fields: list[str], rules: Iterable[str], keyed: bool):
        import pyarrow as pa
        import pyarrow.json as pjson

        self.columns, self.fields, self.keyed = columns, fields, keyed
        self.rules = [RULE_FLAGS[reason] for reason in rules]  # KeyError: a rule without its flag
        types = []
        for _, pg_type in columns:
            base = "character varying" if _VARCHAR.fullmatch(pg_type) else pg_type
            types.append(_ARROW_TYPES[base])  # KeyError: a column type this path cannot carry
        self.schema = pa.schema(list(zip(fields, types, strict=True)))
        self.parse = pjson.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="error")
        self.read = pjson.ReadOptions(block_size=4 << 20)
        self.limits = {name: int(m.group(1)) for name, t in columns if (m := _VARCHAR.fullmatch(t))}
        self.floats = [name for name, t in columns if t == "double precision"]
        self.keys = [b'"' + f.encode() + b'":' for f in fields]

    @classmethod
    def create(cls, columns, fields, rules, keyed) -> ColumnarConverter | None:
        """A converter for the table, or None (Arrow missing, a nested jsonpath, a column type
        or a rule this path has no twin for): the row path stages everything."""
        if not available() or None in fields:
            return None
        try:
            return cls(columns, fields, rules, keyed)
        except KeyError:
            return None

    def convert(self, data: bytes, key: str, max_record_bytes: int) -> Converted:
        why = self._bytes_refused(data, max_record_bytes)
        if why:
            return Converted(None, why_not=why)
        table = self._parse(data)
        if isinstance(table, str):
            return Converted(None, why_not=table)
        lines = data.split(b"\n")
        records = sum(1 for line in lines if line.strip())
        if table.num_rows != records:
            return Converted(None, why_not=f"{table.num_rows} rows parsed from {records} lines")
        if any(data.count(k) != records for k in self.keys):
            return Converted(None, why_not="a key missing, repeated or nested in some record")
        table = table.rename_columns([name for name, _ in self.columns])
        why = self._values_refused(table)
        if why:
            return Converted(None, why_not=why)
        return Converted(self._csv(table, key), rows=records)

    @staticmethod
    def _bytes_refused(data: bytes, max_record_bytes: int) -> str:
        if not MIN_OBJECT_BYTES <= len(data) <= MAX_OBJECT_BYTES:
            return "size"
        if data.startswith(BOM) or not data.lstrip(b" \t\n").startswith(b"{"):
            return "no JSON object first"
        if b"\r" in data or b"\x00" in data or b"\\u0000" in data or _SURROGATE.search(data):
            return "CR, NUL or a surrogate escape"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "invalid UTF-8"
        if max(map(len, data.split(b"\n"))) > max_record_bytes:
            return "a record over the size limit"
        return ""

    def _parse(self, data: bytes):
        import pyarrow as pa
        import pyarrow.json as pjson

        try:
            return pjson.read_json(io.BytesIO(data), read_options=self.read, parse_options=self.parse)
        except pa.ArrowInvalid as exc:
            return f"Arrow: {str(exc)[:200]}"

    def _values_refused(self, table) -> str:
        import pyarrow.compute as pc

        for name, limit in self.limits.items():
            longest = pc.max(pc.binary_length(table[name])).as_py()
            if longest is not None and longest > limit:
                return f"{name} over {limit} bytes"
        for name in self.floats:
            size = pc.abs(table[name])
            normal = pc.and_(pc.greater_equal(size, _SMALLEST_NORMAL), pc.less_equal(size, _LARGEST))
            exact = pc.less_equal(size, float(FLOAT_EXACT_INT))
            if pc.all(pc.and_(normal, exact)).as_py() not in (True, None):
                return f"{name}: zero, NaN, subnormal or beyond 2**53"
        for flag in self.rules:
            if pc.any(pc.fill_null(flag(table, pc), True)).as_py():
                return "a staging rule"
        return ""

    def _csv(self, table, key: str) -> bytes:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        if self.keyed:
            table = table.append_column("source_key", pa.repeat(pa.scalar(key), table.num_rows))
        out = io.BytesIO()
        pcsv.write_csv(table, out, write_options=pcsv.WriteOptions(include_header=False))
        return out.getvalue()


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
