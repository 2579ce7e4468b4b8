"""The PostgreSQL engine's fast path (include/sparkify/staging/rows.py) against PostgreSQL itself.

For every staging column and many awkward JSON values, a record that the fast path maps
must be one PostgreSQL would stage unchanged: jsonb_populate_record accepts it, no staging
rule rejects it, and the row PostgreSQL builds equals the fast path's row. Records the
fast path declines are fine (PostgreSQL decides them), but plain records must not be
declined, or the fast path would be dead code.
"""

from __future__ import annotations

import json

import pytest

from dev.datagen import LOG_JSON_PATH
from include.sparkify import staging
from include.sparkify.staging.rows import compile_mapper
from include.sparkify.staging.sources import rule_case
from tests.conftest import warehouse
from tests.test_bad_input import EVENT, SONG

PROBES = [
    None,
    "",
    "a",
    "15",
    " 12",
    "1e3",
    "NaN",
    "null",
    "x" * 16,
    "x" * 17,
    "é" * 16,
    "é" * 17,
    "x" * 64,
    "x" * 65,
    "x" * 512,
    "x" * 513,
    "x" * 1024,
    "x" * 1025,
    "x\u0000y",
    "NextSong",
    "Sigur Rós",
    0,
    1,
    -1,
    7,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**53,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**63,
    0.0,
    -0.0,
    1.0,
    1.5,
    250.5,
    1540919166796.0,
    1e308,
    -1e-308,
    1e20,
    True,
    False,
    [],
    {},
    [1],
    {"a": 1},
]


def log_fields() -> list[str]:
    return [path[len("$['") : -len("']")] for path in json.loads(LOG_JSON_PATH)["jsonpaths"]]


@pytest.fixture(scope="module")
def conn(stack):
    with warehouse(stack) as connection:
        for path in sorted((staging.config.SQL_DIR / "ddl").glob("*.sql")):
            connection.execute(path.read_text())
        yield connection


def columns(conn, table: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (table,),
    ).fetchall()
    return [(name, type_) for name, type_ in rows if name != "source_key"]


def postgres_row(conn, table: str, mapped: dict) -> tuple | None:
    """The row PostgreSQL stages from the mapped JSON object, or None if it would reject it."""
    document = json.dumps(mapped)
    fits = conn.execute(f"SELECT jsonb_populate_record_valid(NULL::{table}, %s::jsonb)", (document,)).fetchone()[0]
    if not fits:
        return None
    names = [name for name, _ in columns(conn, table)]
    rule = rule_case(table, prefix="r.")
    row = conn.execute(
        f"SELECT {rule}, {', '.join('r.' + n for n in names)} FROM jsonb_populate_record(NULL::{table}, %s::jsonb) AS r",
        (document,),
    ).fetchone()
    return None if row[0] is not None else tuple(row[1:])


def same(fast: list, slow: tuple) -> bool:
    """Equal values of equal types (-0.0 equals 0.0: jsonb numbers have no negative zero)."""
    return len(fast) == len(slow) and all(
        a == b and (a is None or b is None or isinstance(a, (int, float)) == isinstance(b, (int, float)))
        for a, b in zip(fast, slow)
    )


CASES = [
    ("staging_events", EVENT, log_fields),
    ("staging_songs", SONG, None),
]


@pytest.mark.parametrize(("table", "base", "fields_of"), CASES, ids=["events", "songs"])
def test_fast_path_agrees_with_postgresql(conn, table, base, fields_of):
    cols = columns(conn, table)
    fields = fields_of() if fields_of else [name for name, _ in cols]
    mapper = compile_mapper(cols, fields, [python for _, python, _ in staging.RULES[table]])
    assert mapper is not None
    assert mapper(json.dumps(base).encode()) is not None, "a plain record must take the fast path"

    mapped_count = declined = 0
    for field in fields:
        for value in PROBES:
            record = {**base, field: value}
            line = json.dumps(record, ensure_ascii=False).encode()
            fast = mapper(line)
            column_values = {name: record.get(key) for (name, _), key in zip(cols, fields)}
            if fast is None:
                declined += 1
                continue
            mapped_count += 1
            slow = postgres_row(conn, table, column_values)
            assert slow is not None, f"fast path staged {field}={value!r}, PostgreSQL rejects it"
            assert same(fast, slow), (field, value, fast, slow)
    # Both outcomes happen: the probes exercise the checks, not just one branch.
    assert mapped_count > len(fields) * 3 and declined > len(fields) * 10


def test_rules_send_records_to_postgresql(conn):
    cols = columns(conn, "staging_events")
    mapper = compile_mapper(cols, log_fields(), [python for _, python, _ in staging.RULES["staging_events"]])
    for changes in (
        {"ts": None},
        {"userId": "abc"},
        {"userId": "1234567890"},
        {"userId": ""},
        {"userId": None},
        {"sessionId": None},
        {"itemInSession": None},
    ):
        record = {**EVENT, **changes}
        assert mapper(json.dumps(record).encode()) is None, changes
        assert (
            postgres_row(conn, "staging_events", {n: record.get(k) for (n, _), k in zip(cols, log_fields())}) is None
        ), changes  # ...and PostgreSQL does reject them
    logged_out = {**EVENT, "page": "Home", "userId": "", "firstName": None, "sessionId": 3}
    assert mapper(json.dumps(logged_out).encode()) is not None


@pytest.mark.parametrize(
    "line",
    [b"", b"{", b"[1, 2]", b'"text"', b"null", b'{"ts": 1}garbage', b'{"artist": "a\\u0000b"}', b'{"song": "\\ud800"}'],
)
def test_malformed_or_odd_lines_are_left_to_postgresql(conn, line):
    mapper = compile_mapper(columns(conn, "staging_events"), log_fields(), [])
    assert mapper(line) is None


def test_unsupported_columns_disable_the_fast_path():
    assert compile_mapper([("at", "timestamp without time zone")], ["at"], []) is None
    assert compile_mapper([("nested", "integer")], [None], []) is None  # a nested jsonpath
    assert compile_mapper([("class", "integer")], ["class"], []) is None  # not a Python name
