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
* its bytes are valid UTF-8 with no raw NUL, no CR, no byte order mark, every line starting
  an object (no blank line) and none longer than the record limit;
* Arrow parses it with the explicit schema, unknown keys an error (so no key beyond the
  mapped ones, no duplicate key, no value of another JSON type: each is an Arrow error), into
  one row per line. Arrow also refuses a ``\\uD...`` escape that is not half of a surrogate
  pair, as orjson does on the row path; a pair is the same character either way;
* no string holds a NUL (a ``\\u0000`` escape, which PostgreSQL's text cannot hold: the row
  path leaves such a record to PostgreSQL, which rejects it);
* no record lacks a mapped key (Arrow reads a missing key as NULL): every NULL is an explicit
  ``"key":null``, counted in the bytes (so no schema drift: every record has the mapped keys);
* every string fits its VARCHAR in bytes, every float is a normal finite number below 2**53
  in magnitude (so an underflow to 0, NaN or a huge integer literal goes to PostgreSQL's
  float8 input, as on the row path), and no row breaks a staging rule (``RULES``).

The checks on bytes, before the parse and on the parsed strings, are in columnar_bytes.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from include.sparkify.staging.columnar_bytes import bytes_refused, string_bytes
from include.sparkify.staging.rows import FLOAT_EXACT_INT

MIN_OBJECT_BYTES = 16 << 10  # smaller objects (a song file) cost more to hand to Arrow than to map
MAX_OBJECT_BYTES = 64 << 20  # larger ones are streamed by the row path: memory stays flat
_ARROW_TYPES = {"character varying": "string", "text": "string", "integer": "int32", "bigint": "int64"}
_ARROW_TYPES |= {"smallint": "int16", "double precision": "float64"}
_VARCHAR = re.compile(r"character varying\((\d+)\)")
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
    """An object's staging rows: an Arrow ``table``, or once encoded (``ColumnarConverter.encode``)
    ``csv``, the rows as CSV for COPY. ``why_not`` says why an object is not plainly valid
    (then there are neither)."""

    table: object | None
    rows: int = 0
    why_not: str = ""
    csv: object | None = None

    def csv_buffer(self):
        """The table's rows as CSV, in an Arrow buffer: written without the GIL, no header."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        out = pa.BufferOutputStream()
        pcsv.write_csv(self.table, out, write_options=pcsv.WriteOptions(include_header=False))
        return out.getvalue()

    def to_csv(self) -> bytes:
        return self.csv_buffer().to_pybytes()


class ColumnarConverter:
    """Turns a plainly valid object into a table for ``COPY table (columns[, source_key]) FROM
    STDIN (FORMAT csv)``; anything else into a refusal (``Converted.table`` None)."""

    def __init__(self, columns: list[tuple[str, str]], fields: list[str], rules: Iterable[str], keyed: bool):
        import pyarrow as pa
        import pyarrow.json as pjson

        # Arrow's jemalloc pool, told to give freed memory back at once (its default, and
        # mimalloc, keep it for reuse): the staging task's memory stays what the objects in
        # flight need, not the most it ever held.
        try:
            pa.jemalloc_set_decay_ms(0)
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except NotImplementedError:  # a build without jemalloc
            pa.set_memory_pool(pa.system_memory_pool())
        self.columns, self.fields, self.keyed = columns, fields, keyed
        self.rules = [RULE_FLAGS[reason] for reason in rules]  # KeyError: a rule without its flag
        types = []
        for _, pg_type in columns:
            base = "character varying" if _VARCHAR.fullmatch(pg_type) else pg_type
            types.append(_ARROW_TYPES[base])  # KeyError: a column type this path cannot carry
        self.schema = pa.schema(list(zip(fields, types, strict=True)))
        self.parse = pjson.ParseOptions(explicit_schema=self.schema, unexpected_field_behavior="error")
        # 1 MiB blocks: as fast as 4 MiB here, and 8 MB less peak memory (15 MB objects). A
        # longer record straddles two blocks and is still parsed whole. One thread per parse:
        # objects are parsed side by side instead (columnar_copy.AHEAD), which costs less CPU
        # than Arrow's threads within each (5.2 against 5.9 CPU-seconds for the staging
        # benchmark's 460 MB).
        self.read = pjson.ReadOptions(block_size=1 << 20, use_threads=False)
        self.limits = {name: int(m.group(1)) for name, t in columns if (m := _VARCHAR.fullmatch(t))}
        self.floats = [name for name, t in columns if t == "double precision"]
        self.strings = [name for (name, _), arrow_type in zip(columns, types) if arrow_type == "string"]

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
        why, records = bytes_refused(data, MIN_OBJECT_BYTES, MAX_OBJECT_BYTES, max_record_bytes)
        if why:
            return Converted(None, why_not=why)
        table = self._parse(data)
        if isinstance(table, str):
            return Converted(None, why_not=table)
        if table.num_rows != records:
            return Converted(None, why_not=f"{table.num_rows} rows parsed from {records} lines")
        table = table.rename_columns([name for name, _ in self.columns])
        why = self._values_refused(table)
        if why:
            return Converted(None, why_not=why)
        # Every NULL an explicit "key":null, so no record lacks a mapped key (no drift): Arrow
        # reads a missing key as NULL too. A ":null" outside a string (checked: no string holds
        # one) is an object member's value, of a mapped key at the top level (any other key,
        # any nesting is an Arrow error), at most once per record (duplicates are one too).
        if data.count(b":null") != sum(column.null_count for column in table.columns):
            return Converted(None, why_not="a key missing in some record, or a spaced null")
        return Converted(self._keyed(table, key), rows=records)

    @staticmethod
    def encode(converted: Converted) -> Converted:
        """The rows as CSV, the table let go (a refusal is returned as it is)."""
        if converted.table is None:
            return converted
        return Converted(None, rows=converted.rows, csv=converted.csv_buffer())

    def _parse(self, data: bytes):
        import pyarrow as pa
        import pyarrow.json as pjson

        try:
            # A BufferReader reads the bytes in place (a BytesIO is read into copies).
            return pjson.read_json(pa.BufferReader(data), read_options=self.read, parse_options=self.parse)
        except pa.ArrowInvalid as exc:
            return f"Arrow: {str(exc)[:200]}"

    def _values_refused(self, table) -> str:
        import pyarrow.compute as pc

        for name, limit in self.limits.items():
            longest = pc.max(pc.binary_length(table[name])).as_py()
            if longest is not None and longest > limit:
                return f"{name} over {limit} bytes"
        for name in self.strings:
            for values in string_bytes(table[name]):
                if b"\x00" in values:
                    return f"{name}: a value holding NUL (\\u0000)"
                if b":null" in values:  # within a value, or across two: either way, refused
                    return f"{name}: a value holding ':null'"
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

    def _keyed(self, table, key: str):
        import pyarrow as pa

        if self.keyed:
            table = table.append_column("source_key", pa.repeat(pa.scalar(key), table.num_rows))
        return table
