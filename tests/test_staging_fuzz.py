"""Property-based fuzz of staging (issue 11, "No record can stop the pipeline"): byte streams
of Sparkify event records, valid and mutated, cut into arbitrary chunks.

Every non-blank input line must end as exactly one record, staged or rejected; valid records
must be staged as the row their JSON gives; and nothing may raise. The Python half (split_lines,
the fast-path mapper, the spool) runs in the fast layer; the PostgreSQL half stages generated
objects through ``staging.stage`` into the stack's PostgreSQL (marked ``stack``), with a fixed
corpus of the issue's hostile inputs.

The expected outcome of a line is computed here from Python's ``json`` module and the
documented rules (sources.RULES, the VARCHAR byte lengths, an empty string as NULL in a
numeric column); where those rules do not decide a value (a string in a number column, say)
the line is "unknown" and only counted.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from dev.datagen import LOG_JSON_PATH
from include.sparkify import config, staging
from include.sparkify.staging import postgres
from include.sparkify.staging.lines import ARRAY_FILE, ARRAY_TEXT_BYTES, BOM, REJECT_TEXT_BYTES, split_lines
from include.sparkify.staging.objects import S3Object
from include.sparkify.staging.postgres import PostgresEngine
from include.sparkify.staging.rows import compile_mapper
from include.sparkify.staging.sources import EVENTS, RULES, StagingRun
from include.sparkify.staging.spool import MAX_JSON_DEPTH, spool, unspool
from include.sparkify.window import Window
from tests.conftest import warehouse
from tests.test_bad_input import DAY, EVENT, HOUR
from tests.unit.staging.fakes import FakeS3

# Hypothesis keeps nothing in the repository: no example database, and its other caches
# (e.g. the constants it collects) in a temporary directory unless told otherwise.
if not os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "sparkify-hypothesis")
SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

BUCKET = "sparkify-staging-fuzz"
DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


# ----------------------------------------------------------------------------- the table
def event_columns() -> list[tuple[str, str]]:
    """staging_events' columns (but source_key) with PostgreSQL's names for their types, read
    from its DDL."""
    names = {"INTEGER": "integer", "BIGINT": "bigint", "DOUBLE PRECISION": "double precision"}
    ddl = (config.SQL_DIR / "ddl" / "staging_events.sql").read_text()
    out = []
    for name, type_ in re.findall(r"^\s+(\w+) ([A-Z][A-Z ]*(?:\(\d+\))?),?$", ddl, re.MULTILINE):
        varchar = re.fullmatch(r"VARCHAR\((\d+)\)", type_)
        out.append((name, f"character varying({varchar[1]})" if varchar else names.get(type_, type_)))
    assert out[-1][0] == "source_key" and len(out) == 19, out
    return out[:-1]


COLUMNS = event_columns()
FIELDS = [path[len("$['") : -len("']")] for path in json.loads(LOG_JSON_PATH)["jsonpaths"]]
MAPPER = compile_mapper(COLUMNS, FIELDS, [python for _, python, _ in RULES["staging_events"]])
VARCHAR = {name: int(m[1]) for name, type_ in COLUMNS if (m := re.fullmatch(r"character varying\((\d+)\)", type_))}
INT_BITS = {"integer": 31, "bigint": 63}
RULE_REASONS = [reason for *_, reason in RULES["staging_events"]]


# ----------------------------------------------------------------------------- the oracle
def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def escaped(data: bytes) -> bytes:
    """Bytes as one line of UTF-8 text: invalid bytes, NUL, \\x01, \\x02, CR, LF as backslash escapes."""
    table = {0: "\\x00", 1: "\\x01", 2: "\\x02", 10: "\\n", 13: "\\r"}
    return data.decode("utf-8", "backslashreplace").translate(table).encode()


def depth_of(doc: bytes) -> int:
    """Nesting depth of a text, strings taken out first (as PostgreSQL's lexer reads them)."""
    bare = re.sub(rb'"(?:[^"\\]|\\.)*("|\Z)', b"", doc, flags=re.DOTALL)
    return max(itertools.accumulate((1 if c in b"[{" else -1 for c in bare if c in b"[]{}"), initial=0))


def is_array_file(data: bytes) -> bool:
    """A file that is one JSON array (after one BOM and JSON whitespace) is one record."""
    return data.removeprefix(BOM).lstrip(b" \t\r\n").startswith(b"[")


def source_lines(data: bytes) -> list[tuple[int, bytes]]:
    """(line number, line) of the non-blank lines: split on LF, one trailing CR dropped, the
    file's BOM dropped, lines of ASCII whitespace only are blank."""
    lines = data.removeprefix(BOM).split(b"\n")
    return [(n, line[:-1] if line.endswith(b"\r") else line) for n, line in enumerate(lines, 1) if line.strip()]


class _Bad(ValueError):
    pass


def _no_constant(name: str):
    raise _Bad(name)  # NaN, Infinity: not JSON (PostgreSQL refuses them)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


@dataclass
class Outcome:
    kind: str  # "stage", "reject" or "unknown"
    reason: str | None = None  # the exact reason, or a prefix of it ending with ": "
    row: tuple | None = None  # the staged row, in column order
    plain: bool = False  # the fast path must map it (its values already have their column's type)
    escaped: bool = False  # rejected before PostgreSQL parses it: its text is kept escaped


def column_value(name: str, type_: str, value, literal_is_int: bool):
    """(staged value, plain) for a JSON value in a column, or raise _Bad (does not fit) /
    LookupError (the rules here do not decide it)."""
    if value is None:
        return None, True
    if name in VARCHAR:
        if isinstance(value, bool):
            text, plain = ("true" if value else "false"), False
        elif isinstance(value, int):
            text, plain = str(value), False
        elif isinstance(value, str):
            text, plain = value, True
        else:
            raise LookupError(value)  # a decimal or a container: PostgreSQL's own formatting
        if len(text.encode()) > VARCHAR[name]:
            raise _Bad(name)
        return text, plain
    if value == "":
        return None, False  # an empty string in a numeric column is NULL
    if isinstance(value, bool):
        raise _Bad(name)
    if type_ in INT_BITS:
        if isinstance(value, int) and literal_is_int:
            if not -(2 ** INT_BITS[type_]) <= value < 2 ** INT_BITS[type_]:
                raise _Bad(name)
            return value, True
        raise LookupError(value)
    if isinstance(value, (int, Decimal)):  # double precision
        number = float(value)
        if number in (float("inf"), float("-inf")) or (number == 0 and value != 0):
            raise _Bad(name)  # out of range for float8
        # The fast path takes ints up to 2**53 and normal floats; zero, subnormal and
        # out-of-range float text are left to PostgreSQL's float8 input (rows.py).
        if isinstance(value, int):
            plain = abs(value) <= 2**53
        else:
            plain = 2.2250738585072014e-308 <= abs(number) <= 1.7976931348623157e308
        return number, plain
    raise LookupError(value)


def judge(line: bytes, max_bytes: int) -> Outcome:
    """What staging must do with one non-blank line (its line break and trailing CR taken off)."""
    if len(line) > max_bytes:
        return Outcome(
            "reject",
            f"record longer than {max_bytes} bytes (SPARKIFY_MAX_RECORD_BYTES): {len(line)} bytes",
            escaped=True,
        )
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Outcome("reject", f"invalid UTF-8 at byte {exc.start}", escaped=True)
    if "\x00" in text:
        return Outcome("reject", "control character NUL in line", escaped=True)
    if depth_of(line) > MAX_JSON_DEPTH:
        return Outcome("reject", DEEP, escaped=True)
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_float=Decimal)
    except (_Bad, json.JSONDecodeError, RecursionError):
        return Outcome("reject", "malformed JSON")
    except ValueError:  # e.g. an integer of more digits than Python converts
        return Outcome("unknown")
    if any(re.search("[\ud800-\udfff\x00]", s) for s in _strings(doc)):
        return Outcome("reject", "malformed JSON")  # a lone surrogate, \u0000: not in a jsonb
    if not isinstance(doc, dict):
        kind = JSON_TYPES.get(type(doc), "number")  # bool before int: True is an int in Python
        return Outcome("reject", f"not a JSON object but a JSON {kind}")
    row, plain, unknown = [], b"\\u0000" not in line, False
    for (name, type_), field in zip(COLUMNS, FIELDS, strict=True):
        value = doc.get(field)
        try:
            staged, plain_value = column_value(name, type_, value, not isinstance(value, Decimal))
        except _Bad:
            return Outcome("reject", "value does not fit its column: ")
        except LookupError:
            unknown = True
            continue
        row.append(staged)
        plain = plain and plain_value
    if unknown:
        return Outcome("unknown")
    values = dict(zip([name for name, _ in COLUMNS], row, strict=True))
    page, userid = values["page"], values["userid"]
    broken = [
        values["ts"] is None,
        userid not in (None, "") and not re.fullmatch("[0-9]{1,9}", userid),
        page == "NextSong" and not userid,
        page == "NextSong" and (values["sessionid"] is None or values["iteminsession"] is None),
    ]
    if any(broken):
        return Outcome("reject", RULE_REASONS[broken.index(True)])
    return Outcome("stage", row=tuple(row), plain=plain)


def reason_matches(reason: str, expected: str | None) -> bool:
    return expected is None or (reason.startswith(expected) if expected.endswith(": ") else reason == expected)


# ----------------------------------------------------------------------------- generation
def dumps(record: dict, ascii_only: bool = False) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def column_values(name: str, type_: str):
    if name in VARCHAR:
        n = VARCHAR[name]
        pool = ["", "a", "Sigur Rós", 'a "quote" \\ [{]}', "tab\tnew\nline", "\u2028", "😀", "x" * n, "é" * (n // 2)]
        return st.none() | st.sampled_from([v for v in pool if len(v.encode()) <= n] + ["😀" * (n // 4)])
    if type_ in INT_BITS:
        bound = 2 ** INT_BITS[type_]
        return st.none() | st.sampled_from([0, 1, -1, 7, bound - 1, -bound])
    return st.none() | st.sampled_from([0.0, -0.0, 1.5, -250.5, 1e308, 5e-324, 1540919166796.0, 2**53, -7])


@st.composite
def valid_events(draw) -> dict:
    """A Sparkify event whose staging row is unambiguous: its values have their column's type
    and it keeps the rules."""
    event = dict(EVENT)
    for (name, type_), field in zip(COLUMNS, FIELDS, strict=True):
        if name not in ("userid", "page", "ts") and draw(st.booleans()):
            event[field] = draw(column_values(name, type_))
    event["page"] = draw(st.sampled_from(["NextSong", "Home", "Logout", "NextSong"]))
    event["ts"] = draw(st.sampled_from([1542288600796, 0, -1, 2**63 - 1, -(2**63)]))
    if event["page"] == "NextSong":
        event["userId"] = draw(st.sampled_from(["15", "1", "999999999", "007"]))
        event["sessionId"] = 7 if event["sessionId"] is None else event["sessionId"]
        event["itemInSession"] = 3 if event["itemInSession"] is None else event["itemInSession"]
    else:
        event["userId"] = draw(st.sampled_from(["", "15", None]))
    for field in draw(st.lists(st.sampled_from(["artist", "song", "length", "status", "gender"]), max_size=2)):
        event.pop(field, None)  # a missing key is NULL
    if draw(st.booleans()):
        event[draw(st.sampled_from(["extra", "ключ", "[{", ""]))] = draw(
            st.sampled_from([None, [1, {"a": "]"}], {"x": [[[]]]}, "[[[[", nested(3)])
        )
    return event


INSERTS = [
    b"\r",
    b"\n",
    b"\r\n",
    b"\x00",
    b"\x01",
    b"\x02",
    b"\xff",
    b"\xed\xa0\x80",
    BOM,
    b"\\u0000",
    b'"',
    b"[",
    b"}",
]
ODD_LINES = [
    b"42",
    b"null",
    b'"text"',
    b"true",
    b"[1, 2]",
    b"{}",
    b"{",
    b"}",
    b"\x00",
    b'{"ts": NaN}',
    b"\xef\xbb\xbf{}",
]


@st.composite
def lines(draw) -> bytes:
    """One source line: a valid event, or one mutated in one of the ways the issue lists."""
    event = draw(valid_events())
    line = dumps(event, draw(st.booleans()))
    kind = draw(
        st.sampled_from(
            ["valid", "valid", "truncate", "flip", "insert", "surrogate", "huge", "deep", "odd", "types", "bad fields"]
        )
    )
    if kind == "truncate":
        line = line[: draw(st.integers(1, len(line) - 1))]
    elif kind == "flip":
        data = bytearray(line)
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        line = bytes(data)
    elif kind == "insert":  # never at the start: a BOM there would look like the file's
        at = draw(st.integers(1, len(line)))
        line = line[:at] + draw(st.sampled_from(INSERTS)) + line[at:]
    elif kind == "surrogate":
        field = draw(st.sampled_from(["song", "artist", "userId", "nope"]))
        line = dumps({**event, field: draw(st.sampled_from(["\ud800", "\udfff", "a\ud83d", "\ud83d\ude00"]))}, True)
    elif kind == "huge":
        size = draw(st.sampled_from([513, 600, 1100, 5000, 70_000]))
        line = dumps({**event, draw(st.sampled_from(["artist", "useragent", "userAgent", "extra"])): "x" * size})
    elif kind == "deep":  # total depths around the guard (orjson's limit too)
        depth = draw(st.sampled_from([2, 100, MAX_JSON_DEPTH - 2, MAX_JSON_DEPTH - 1, MAX_JSON_DEPTH, 5000]))
        line = dumps(event)[:-1] + b', "extra": ' + nested(depth).encode() + b"}"
    elif kind == "odd":
        line = draw(st.sampled_from(ODD_LINES))
    elif kind == "types":  # values PostgreSQL converts, or refuses
        field, value = draw(
            st.sampled_from(
                [
                    ("userId", 15),
                    ("userId", -3),
                    ("userId", "abc"),
                    ("userId", "1234567890"),
                    ("ts", None),
                    ("ts", "1542288600796"),
                    ("ts", ""),
                    ("itemInSession", 2**31),
                    ("itemInSession", True),
                    ("length", ""),
                    ("length", "1.5"),
                    ("gender", 12345678901234567),
                    ("level", False),
                    ("sessionId", 1.0),
                ]
            )
        )
        line = dumps({**event, field: value})
    elif kind == "bad fields":
        line = dumps({field: ("x" * 600 if name in VARCHAR else "abc") for (name, _), field in zip(COLUMNS, FIELDS)})
    return line


@st.composite
def files(draw) -> bytes:
    records = draw(st.lists(lines(), min_size=1, max_size=6))
    separators = draw(
        st.lists(
            st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \t\r\n", b"\r\n" + b" " * 5000 + b"\r\n"]),
            min_size=len(records),
        )
    )  # the last: a blank line longer than the limit
    if draw(st.sampled_from(["lines"] * 9 + ["array"])) == "array":  # a JSON array file, perhaps broken
        body = b"[" + b",\n".join(records) + draw(st.sampled_from([b"]", b"\n]\n", b"", b"\x01]"]))
        return draw(st.sampled_from([b"", BOM])) + draw(st.sampled_from([b"", b" \n", b"\r\n\t"])) + body
    body = b"".join(r + s for r, s in zip(records, separators))
    if draw(st.booleans()):
        body = body.rstrip(b"\r\n \t")  # no final newline
    return draw(st.sampled_from([b"", BOM])) + body


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


# ----------------------------------------------------------------------------- the Python path
def engine_records(data: bytes, chunk: int, small: int) -> list[tuple]:
    """The records PostgresEngine reads from one object (how it tells an array file, how it
    streams), through a fake S3."""
    with mock.patch.object(postgres, "CHUNK", chunk), mock.patch.object(postgres, "SMALL_OBJECT", small):
        engine = PostgresEngine(StagingRun(EVENTS, Window(), "fuzz", "bucket"), None, FakeS3({DAY: data}))
        ((_, _, records),) = list(engine._read([S3Object(DAY, len(data), "")]))
        return list(records)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=SLOW_OK)
@given(
    files(),
    st.sampled_from([2048, 4096, 1 << 20]),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.sampled_from([3, 64, 1000, 1 << 20]),
)
def test_python_path_every_line_is_one_record(data, max_bytes, cuts, chunk):
    chunks = cut(data, cuts)
    if is_array_file(data):
        with mock.patch.object(config, "MAX_RECORD_BYTES", max_bytes):
            ((number, reason, text, whole),) = engine_records(data, chunk, 1 << 20)
        assert (number, reason, whole) == (1, ARRAY_FILE, (None, None))  # the file is not read whole
        assert text == escaped(data[:ARRAY_TEXT_BYTES])
        return

    records = list(split_lines(chunks, max_bytes))
    expected = source_lines(data)
    assert [n for n, *_ in records] == [n for n, _ in expected], "every non-blank line is one record"
    with mock.patch.object(config, "MAX_RECORD_BYTES", max_bytes):
        assert engine_records(data, chunk, 0) == records  # streamed by the engine: the same records

    suspects, spooled = io.BytesIO(), []
    for (number, reason, text, whole), (_, line) in zip(records, expected, strict=True):
        outcome = judge(line, max_bytes)
        if outcome.escaped and outcome.reason != DEEP:  # rejected while splitting
            assert reason.decode() == outcome.reason
            assert whole == (len(line), sha(line))
            assert text == escaped(line[:REJECT_TEXT_BYTES])
        else:
            assert (reason, text, whole) == (b"", line, None)
            row = MAPPER(text)
            if row is not None:  # the fast path must only map what PostgreSQL stages, as it stages it
                assert outcome.kind == "stage", (line, outcome)
                assert tuple(row) == outcome.row
            elif outcome.plain:
                pytest.fail(f"a plainly valid record left the fast path: {line!r}")
        if reason or MAPPER(text) is None:
            spool(suspects, 0, number, reason, text, whole)
            spooled.append((number, line, outcome))
    suspects.seek(0)
    for (idx, number, reason, doc, size, digest), (want_number, line, outcome) in zip(
        unspool(suspects), spooled, strict=True
    ):
        assert (idx, number, size, digest) == (0, want_number, len(line), sha(line))
        if outcome.escaped:
            assert reason == outcome.reason and doc.encode() == escaped(line[:REJECT_TEXT_BYTES])
        else:
            assert reason is None and doc.encode() == line


def test_the_fuzz_oracle_on_plain_records():
    """The oracle itself: the base event stages as its JSON says, and the fast path maps it."""
    outcome = judge(dumps(EVENT), 1 << 20)
    assert outcome.kind == "stage" and outcome.plain
    assert outcome.row == tuple(EVENT[field] for field in FIELDS)
    assert tuple(MAPPER(dumps(EVENT))) == outcome.row
    assert judge(dumps({**EVENT, "userId": 15}), 1 << 20).row == outcome.row  # "15" as PostgreSQL stages it
    assert judge(dumps({**EVENT, "song": "\ud800"}, True), 1 << 20).reason == "malformed JSON"
    for line, kind in ((b"[1]", "array"), (b"true", "boolean"), (b"1.5", "number"), (b"-0", "number")):
        assert judge(line, 1 << 20).reason == f"not a JSON object but a JSON {kind}"


def test_depth_decides_the_same_on_both_paths():
    deep = dumps(EVENT)[:-1] + b', "extra": ' + nested(MAX_JSON_DEPTH + 1).encode() + b"}"
    suspect = dumps({**EVENT, "userId": 15})[:-1] + b', "extra": ' + nested(MAX_JSON_DEPTH + 1).encode() + b"}"
    out = io.BytesIO()
    spool(out, 0, 1, b"", suspect, None)
    out.seek(0)
    ((*_, reason, _, _, _),) = unspool(out)
    assert reason == DEEP  # the suspect is rejected for its depth...
    assert MAPPER(deep) is None  # ...so the plain one must not be staged by the fast path


def test_only_a_file_starting_with_one_bom_and_a_bracket_is_an_array():
    data = b'\xef\xbf\xbf[1]\n{"a": 1}\n'  # U+FFFF then "[1]": a bad line, then a good one
    assert [n for n, *_ in engine_records(data, 1 << 20, 1 << 20)] == [1, 2]


def test_a_float_that_underflows_is_left_to_postgresql():
    line = dumps(EVENT)[:-1] + b', "length": 1e-400}'
    assert judge(line, 1 << 20).reason == "value does not fit its column: "
    assert MAPPER(line) is None


# ----------------------------------------------------------------------------- the PostgreSQL path
@pytest.fixture(scope="module")
def s3(stack):
    client = stack.s3_client()
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    client.put_object(Bucket=BUCKET, Key="log_json_path.json", Body=LOG_JSON_PATH.encode())
    with warehouse(stack) as conn:
        for path in sorted((config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    return client


RUN_ID = "manual__staging-fuzz"


def stage(stack, s3, data: bytes) -> tuple[dict, list[tuple], list[tuple]]:
    """Stage one day file of ``data`` leniently; (result, staged rows in column order,
    rejects as (line, reason, raw_text, raw_bytes, raw_sha256))."""
    s3.put_object(Bucket=BUCKET, Key=DAY, Body=data)
    with warehouse(stack) as conn:
        conn.execute("TRUNCATE staging_events")
        conn.execute("DELETE FROM staging_rejects WHERE run_id = %s", (RUN_ID,))
    result = staging.stage(EVENTS, HOUR, run_id=RUN_ID, bucket=BUCKET, force=True, max_reject_fraction=1.0)
    names = [name for name, _ in COLUMNS]
    with warehouse(stack) as conn:
        rows = conn.execute(f"SELECT {', '.join(names)}, source_key FROM staging_events").fetchall()
        rejects = conn.execute(
            "SELECT line_number, reason, raw_text, raw_bytes, raw_sha256 FROM staging_rejects "
            "WHERE run_id = %s AND staging_table = 'staging_events' ORDER BY line_number",
            (RUN_ID,),
        ).fetchall()
    assert all(key == DAY for *_, key in rows)
    return result, [tuple(r[:-1]) for r in rows], rejects


def check_staged(
    data: bytes, max_bytes: int, result: dict, rows: list[tuple], rejects: list[tuple], chunk: int | None = None
) -> None:
    """Every line staged xor rejected, as the oracle says; every reject fits its columns.
    ``chunk``: the size the object was streamed in (None: fetched whole)."""
    for _, reason, raw_text, _, _ in rejects:
        assert len(reason) <= 1024 and (raw_text is None or len(raw_text) <= 65535)
    if is_array_file(data):
        assert (result["records"], result["rows"], rows) == (1, 0, [])
        ((number, reason, raw_text, _, _),) = rejects
        assert (number, reason) == (1, ARRAY_FILE.decode())
        head = len(data)  # the text kept: the file's start, as far as it was read to tell an array
        if chunk is not None:
            first = len(data) - len(data.removeprefix(BOM).lstrip(b" \t\r\n"))
            head = -(-(first + 1) // chunk) * chunk
        assert raw_text == escaped(data[: min(head, ARRAY_TEXT_BYTES)]).decode()[:8192]
        return
    lines = source_lines(data)
    assert result["records"] == len(lines) == len(rows) + len(rejects), "every line staged xor rejected"
    outcomes = {n: judge(line, max_bytes) for n, line in lines}
    by_number = dict(lines)
    rejected = {number: (reason, text, size, digest) for number, reason, text, size, digest in rejects}
    assert len(rejected) == len(rejects)
    for number, outcome in outcomes.items():
        line = by_number[number]
        if outcome.kind == "stage":
            assert number not in rejected, (line, rejected.get(number))
        elif outcome.kind == "reject":
            assert number in rejected, (line, outcome)
            reason, text, size, digest = rejected[number]
            assert reason_matches(reason, outcome.reason[:1000]), (line, reason, outcome.reason)
            assert (size, digest) == (len(line), sha(line))
            kept = escaped(line[:REJECT_TEXT_BYTES]).decode() if outcome.escaped else line.decode()
            assert text == kept[:8192]
    # The rows: those of the valid records, plus as many as the undecided lines that were staged.
    expected = Counter(o.row for o in outcomes.values() if o.kind == "stage")
    staged = Counter(rows)
    assert not expected - staged, f"valid records not staged as their JSON says: {expected - staged}"
    unknown_staged = [n for n, o in outcomes.items() if o.kind == "unknown" and n not in rejected]
    assert sum((staged - expected).values()) == len(unknown_staged)


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=SLOW_OK)
@given(files(), st.sampled_from([2048, 4096, 1 << 20]), st.sampled_from([(4 << 20, 1 << 20), (0, 5), (0, 1000)]))
def test_postgres_path_every_line_is_staged_xor_rejected(stack, s3, data, max_bytes, reading):
    small, chunk = reading
    with (
        mock.patch.object(config, "MAX_RECORD_BYTES", max_bytes),
        mock.patch.object(postgres, "SMALL_OBJECT", small),
        mock.patch.object(postgres, "CHUNK", chunk),
    ):
        result, rows, rejects = stage(stack, s3, data)  # never raises: max_reject_fraction=1.0
    check_staged(data, max_bytes, result, rows, rejects, None if small else chunk)


# The hostile inputs, each a day file; the valid event around them must stage.
GOOD = dumps(EVENT)
MANY_BAD = dumps(
    {field: ("é" * 600 if name in VARCHAR else "not a number") for (name, _), field in zip(COLUMNS, FIELDS)}
)
MiB = 1 << 20
CORPUS = {
    "a rejected line of more than 65,535 characters": GOOD + b'\n{"artist": "' + b"x" * 70_000 + b"\n" + GOOD,
    "a record of 80,000 bytes, too long for its column": GOOD + b"\n" + dumps({**EVENT, "song": "é" * 40_000}),
    "many bad fields: a reason of more than 1,024 characters": MANY_BAD + b"\n" + GOOD,
    "JSON nested 100,000 levels": GOOD + b'\n{"ts": 1, "x": ' + nested(100_000).encode() + b"}\n" + GOOD,
    "objects nested 100,000 levels": b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"\n" + GOOD,
    "an unclosed line of 100,000 brackets": GOOD + b"\n" + b"[" * 100_000,
    "a file that is [[[[... 100,000 deep": b"[" * 100_000,
    "a lone surrogate": GOOD + b"\n" + dumps({**EVENT, "song": "\ud800"}, True) + b"\n" + b'{"song": "\xed\xa0\x80"}',
    "a malformed array with raw newlines and control bytes": b'[\n{"a": "\x01\x02"},\r\n\x00{"b": \n' + GOOD,
    "a malformed array after a good line": GOOD + b'\n[\n{"a": "\x01\x02"},\r\n\x00{"b": \n]',
    "a carriage return in the middle of a suspect line": (
        dumps({**EVENT, "userId": 15})[:-1]
        + b',\r"x": 1}\n'
        + dumps({**EVENT, "userId": 15, "song": "a"}).replace(b'"a"', b'"a\rb"')
    ),
    "a record of 20 MiB": GOOD + b"\r\n" + dumps({**EVENT, "song": "x" * (20 * MiB)}) + b"\r\n" + GOOD,
}


@pytest.mark.parametrize("name", CORPUS)
def test_hostile_inputs_are_staged_or_rejected(stack, s3, name):
    data = CORPUS[name]
    result, rows, rejects = stage(stack, s3, data)
    check_staged(data, config.MAX_RECORD_BYTES, result, rows, rejects)
    lines = dict(source_lines(data))
    for number, reason, raw_text, size, digest in rejects:
        if not is_array_file(data):
            assert (size, digest) == (len(lines[number]), sha(lines[number])), "the whole record's length and digest"
        assert len(reason) <= 1024 and len(raw_text) <= 16_000
    reasons = [reason for _, reason, *_ in rejects]
    if name.startswith("many bad fields"):
        assert len(reasons[0]) == 1000 and reasons[0].startswith("value does not fit its column: artist ")
    if name == "a record of 20 MiB":
        assert reasons == [f"record longer than {MiB} bytes (SPARKIFY_MAX_RECORD_BYTES): {len(lines[2])} bytes"]
        assert len(rows) == 2
    if "100,000" in name and "file" not in name:
        assert reasons == [DEEP]
    if name.startswith("a carriage return"):  # as JSON whitespace it stages; inside a string it is malformed
        assert (len(rows), reasons) == (1, ["malformed JSON"])


def test_an_array_files_reject_describes_the_whole_file(stack, s3):
    data = b"[\n" + b",\n".join([GOOD] * 20) + b"\n]\n"  # longer than the text kept, with newlines
    _, _, rejects = stage(stack, s3, data)
    ((_, _, _, size, digest),) = rejects
    assert (size, digest) in ((None, None), (len(data), sha(data)))


def test_an_underflowing_float_is_rejected_on_both_paths(stack, s3):
    suspect = dumps({**EVENT, "userId": 15})[:-1] + b', "length": 1e-400}'  # userId a number: PostgreSQL maps it
    plain = dumps(EVENT)[:-1] + b', "length": 1e-400}'  # plainly valid to the fast path
    _, rows, rejects = stage(stack, s3, suspect + b"\n" + plain)
    assert [(n, r.split(" <- ")[0]) for n, r, *_ in rejects[:1]] == [
        (1, "value does not fit its column: length double precision")
    ]
    assert (len(rows), len(rejects)) == (0, 2)
