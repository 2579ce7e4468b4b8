"""The PostgreSQL engine's fast path (include/sparkify/staging/rows.py), without PostgreSQL.

Expected rows are written by hand; the check against PostgreSQL itself is tests/test_rows.py.
"""

from __future__ import annotations

import pytest

from include.sparkify.staging.rows import compile_mapper, value_check
from include.sparkify.staging.sources import RULES

COLUMNS = [
    ("name", "character varying(5)"),
    ("userid", "text"),
    ("small", "smallint"),
    ("n", "integer"),
    ("big", "bigint"),
    ("x", "double precision"),
]
FIELDS = ["name", "userId", "small", "n", "big", "x"]  # userid is read from the key userId
MAPPER = compile_mapper(COLUMNS, FIELDS, ["n == 13", "name == 'bad'"])


def test_copy_types_follow_the_columns():
    assert MAPPER.copy_types == ["varchar", "text", "int2", "int4", "int8", "float8"]
    assert value_check("v", "character varying") == ("(v is None or type(v) is str)", "varchar")


@pytest.mark.parametrize(
    ("columns", "fields"),
    [
        ([("ts", "timestamp without time zone")], ["ts"]),
        ([("amount", "numeric(10,2)")], ["amount"]),
        ([("flag", "boolean")], ["flag"]),
        ([("a", "text")], [None]),  # a nested jsonpath
        ([("class", "text")], ["class"]),  # not a Python name
        ([("a", "text"), ("b", "json")], ["a", "b"]),
    ],
)
def test_unsupported_columns_get_no_mapper(columns, fields):
    assert compile_mapper(columns, fields, []) is None


def test_a_plainly_valid_line_is_mapped():
    line = b'{"name": "\xc3\xa9t\xc3\xa9", "userId": "7", "small": -32768, "n": 2147483647, "big": -1, "x": 1.5, "other": [1]}'
    assert MAPPER(line) == ["été", "7", -32768, 2147483647, -1, 1.5]  # 5 bytes of UTF-8 in a VARCHAR(5)
    assert MAPPER(b"{}") == [None] * 6  # missing keys and nulls are NULL
    assert MAPPER(b'{"x": 9007199254740992, "big": 9223372036854775807}') == [None, None, None, None, 2**63 - 1, 2**53]


@pytest.mark.parametrize(
    "line",
    [
        b'{"name": "abcdef"}',  # 6 characters in a VARCHAR(5)
        b'{"name": "\xc3\xa9t\xc3\xa9s"}',  # 4 characters but 6 bytes: VARCHAR(n) holds n bytes
        b'{"name": 5}',
        b'{"userId": 7}',
        b'{"small": 32768}',
        b'{"n": 2147483648}',
        b'{"n": -2147483649}',
        b'{"big": 9223372036854775808}',
        b'{"n": "7"}',
        b'{"n": 7.0}',
        b'{"n": true}',
        b'{"x": "1.5"}',
        b'{"x": 9007199254740993}',  # an int a float8 cannot hold exactly
        b'{"n": 13}',  # a rule
        b'{"name": "bad"}',  # the other rule
        b'{"name": ',
        b'{"name": "a"} x',
        b"[1, 2]",
        b'"text"',
        b'{"name": "a\\u0000"}',
    ],
)
def test_anything_else_is_suspect(line):
    assert MAPPER(line) is None


def test_the_staging_events_rules_in_python():
    columns = [("page", "character varying(64)"), ("userid", "character varying(64)"), ("ts", "bigint")]
    columns += [("sessionid", "integer"), ("iteminsession", "integer")]
    mapper = compile_mapper(columns, [c for c, _ in columns], [python for _, python, _ in RULES["staging_events"]])
    ok = b'{"page": "NextSong", "userid": "42", "ts": 1, "sessionid": 3, "iteminsession": 0}'
    assert mapper(ok) == ["NextSong", "42", 1, 3, 0]
    assert mapper(b'{"page": "Home", "userid": "", "ts": 1}') == ["Home", "", 1, None, None]
    for broken in (
        b'{"page": "Home", "userid": "42"}',  # missing ts
        b'{"page": "Home", "userid": "4a", "ts": 1}',
        b'{"page": "Home", "userid": "1234567890", "ts": 1}',
        b'{"page": "NextSong", "userid": "", "ts": 1, "sessionid": 3, "iteminsession": 0}',
        b'{"page": "NextSong", "userid": "42", "ts": 1, "iteminsession": 0}',
    ):
        assert mapper(broken) is None, broken


def test_a_record_whose_keys_differ_from_the_mapped_ones_is_reported_as_drift_mapped_or_not():
    seen: list[dict] = []
    mapper = compile_mapper(COLUMNS, FIELDS, ["n == 13"], drift=seen.append)
    exact = b'{"name": "a", "userId": "7", "small": 1, "n": 2, "big": 3, "x": 1.5}'
    assert mapper(exact) == ["a", "7", 1, 2, 3, 1.5] and seen == []  # the mapped keys exactly: no drift
    assert mapper(b'{"name": "a", "userId": "7", "small": 1, "n": 2, "big": 3, "x": 1.5, "mood": "up"}')
    assert mapper(b'{"name": "a", "n": 13}') is None  # a rejected record's keys count too
    assert mapper(b"[1, 2]") is None and mapper(b"not json") is None  # no object: no keys to compare
    assert [sorted(r) for r in seen] == [sorted([*FIELDS, "mood"]), ["n", "name"]]
