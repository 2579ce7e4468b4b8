"""The columnar path (include/sparkify/staging/columnar.py) without a database: which objects
it takes whole and which it leaves to the row path, and that it is never the only judge of
a record: every refusal reason below is a record the row path decides differently or
reports (drift, a reject, PostgreSQL's own parsing). Values against PostgreSQL:
tests/test_columnar.py."""

from __future__ import annotations

import csv
import io
import json

import pytest

from include.sparkify.staging import columnar
from include.sparkify.staging.columnar import RULE_FLAGS, ColumnarConverter
from include.sparkify.staging.sources import RULES
from tests.test_bad_input import EVENT

FIELDS = list(EVENT)  # the jsonpaths' keys, in the log_json_path.json order
COLUMNS = [
    ("artist", "character varying(512)"),
    ("auth", "character varying(32)"),
    ("firstname", "character varying(256)"),
    ("gender", "character varying(16)"),
    ("iteminsession", "integer"),
    ("lastname", "character varying(256)"),
    ("length", "double precision"),
    ("level", "character varying(16)"),
    ("location", "character varying(512)"),
    ("method", "character varying(16)"),
    ("page", "character varying(64)"),
    ("registration", "double precision"),
    ("sessionid", "integer"),
    ("song", "character varying(512)"),
    ("status", "integer"),
    ("ts", "bigint"),
    ("useragent", "character varying(1024)"),
    ("userid", "character varying(64)"),
]
REASONS = [reason for _, _, reason in RULES["staging_events"]]
COPIES = 200  # lines of the plain record: the object is over MIN_OBJECT_BYTES


@pytest.fixture(scope="module")
def converter():
    made = ColumnarConverter.create(COLUMNS, FIELDS, REASONS, keyed=True)
    assert made is not None
    return made


def obj(*odd: bytes, copies: int = COPIES) -> bytes:
    plain = json.dumps(EVENT, ensure_ascii=False, separators=(",", ":")).encode()
    return b"\n".join([plain] * copies + list(odd))


def line(**changes) -> bytes:
    return json.dumps({**EVENT, **changes}, ensure_ascii=False, separators=(",", ":")).encode()


def test_every_staging_rule_has_its_columnar_flag():
    assert {reason for rules in RULES.values() for _, _, reason in rules} <= set(RULE_FLAGS)


def test_a_plain_object_becomes_one_csv_row_per_record_with_its_source_key(converter):
    data = obj(copies=COPIES)
    assert len(data) >= columnar.MIN_OBJECT_BYTES
    done = converter.convert(data, "log_data/2018/11/2018-11-15-events.json", 1 << 20)
    assert done.table is not None and done.rows == COPIES
    rows = list(csv.reader(io.StringIO(done.to_csv().decode())))
    assert len(rows) == COPIES
    first = dict(zip([name for name, _ in COLUMNS] + ["source_key"], rows[0]))
    assert first["artist"] == "Sigur Rós" and first["userid"] == "15" and first["ts"] == "1542288600796"
    assert float(first["registration"]) == EVENT["registration"]
    assert first["source_key"] == "log_data/2018/11/2018-11-15-events.json"


def test_a_final_newline_or_none_and_blank_lines_left_to_the_row_path(converter):
    assert converter.convert(obj(line(userId="16")), "k", 1 << 20).rows == COPIES + 1  # no final newline
    assert converter.convert(obj(line(userId="16")) + b"\n", "k", 1 << 20).rows == COPIES + 1
    for blank in (b"", b"   ", b"\t"):  # the row path skips them, and numbers lines with them
        assert converter.convert(obj(blank, line(userId="16")), "k", 1 << 20).why_not == "a blank line"
    assert converter.convert(obj() + b"\n\n", "k", 1 << 20).table is None


@pytest.mark.parametrize(
    ("odd", "why"),
    [
        (line(title="x").replace(b'"userId":"15"', b'"userId":"15","mood":"x"'), "unknown key: drift"),
        (line().replace(b',"userId":"15"', b""), "missing key: drift"),
        (line().replace(b'"userId":"15"', b'"userId":"15","userId":"16"'), "duplicate key"),
        (line(song=66), "a number where a string belongs: PostgreSQL decides"),
        (line(status="200"), "a string where a number belongs"),
        (line(sessionId=2**31), "beyond integer"),
        (line(sessionId=1.0), "a float for an integer"),
        (line(length=0.0), "zero: maybe an underflow"),
        (line().replace(b'"length":250.5', b'"length":1e-400'), "an underflow"),
        (line(length=2.0**60), "beyond 2**53"),
        (line().replace(b'"length":250.5', b'"length":NaN'), "NaN is no JSON"),
        (line(gender="x" * 17), "over VARCHAR(16)"),
        (line(gender="é" * 9), "over VARCHAR(16) in bytes, not characters"),
        (line(ts=None), "rule: missing ts"),
        (line(userId="abc"), "rule: userId not a number"),
        (line(userId=""), "rule: NextSong without a user"),
        (line(sessionId=None), "rule: NextSong without a session"),
        (line() + line(), "two objects on one line"),
        (line() + b"\r", "CR"),
        (line(song="a\u0000b"), "NUL"),
        (line().replace(b"Hopp", b"\\ud800"), "a lone surrogate"),
        (line().replace(b"Hopp", b"\\ude00\\ud83d"), "a surrogate pair the wrong way round"),
        (line().replace(b"Hopp", b"\\ud83d\\ud83d"), "two high surrogates"),
        (line().replace(b"Hopp", b"\\ude00"), "a lone low surrogate"),
        (line().replace(b"Hopp", b"\\u0000"), "an escaped NUL"),
        (line(location="a\u0000"), "an escaped NUL at the end of a value"),
        (b'{"ts": 1, broken', "malformed"),
        (line(song="x").replace(b'"x"', b'"\xff"'), "invalid UTF-8"),
        (line(song="a:null"), "a string holding :null (the explicit-null count)"),
        (line().replace(b'"song":"Hopp\xc3\xadpolla"', b'"song": null'), "a spaced null"),
        (b"[1, 2]", "an array"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_anything_not_plainly_valid_goes_to_the_row_path(converter, odd, why):
    assert converter.convert(obj(odd), "k", 1 << 20).table is None, why


def test_escaped_nuls_and_unpaired_surrogates_are_refused_by_the_checks_that_see_them(converter):
    """No scan of the raw bytes looks for escapes: the parsed strings are checked for NUL,
    and Arrow's parser refuses an unpaired surrogate."""
    nul = converter.convert(obj(line().replace(b"Hopp", b"\\u0000")), "k", 1 << 20)
    assert nul.why_not == "song: a value holding NUL (\\u0000)"
    at_the_end = converter.convert(obj(line(location="a\u0000")), "k", 1 << 20)
    assert at_the_end.why_not == "location: a value holding NUL (\\u0000)"
    for escape in (b"\\ud800", b"\\ude00", b"\\ude00\\ud83d", b"\\ud83d\\ud83d"):
        assert converter.convert(obj(line().replace(b"Hopp", escape)), "k", 1 << 20).why_not.startswith("Arrow:")


def test_an_escaped_surrogate_pair_is_taken_as_the_character_it_encodes(converter):
    """Arrow decodes a pair as orjson does on the row path (and PostgreSQL's JSON input):
    one character, four bytes of UTF-8. Against PostgreSQL: tests/test_columnar.py."""
    done = converter.convert(obj(line().replace(b"Hopp", b"\\ud83d\\ude00")), "k", 1 << 20)
    assert done.table is not None
    assert done.table["song"][COPIES].as_py() == "\U0001f600" + EVENT["song"].removeprefix("Hopp")
    assert json.loads(line().replace(b"Hopp", b"\\ud83d\\ude00"))["song"] == done.table["song"][COPIES].as_py()


def test_objects_out_of_bounds_or_starting_oddly_go_to_the_row_path(converter):
    assert converter.convert(obj(copies=2), "k", 1 << 20).why_not == "size"  # small: not worth it
    assert converter.convert(b"\xef\xbb\xbf" + obj(), "k", 1 << 20).table is None  # byte order mark
    assert converter.convert(obj(line(song="x" * 300)), "k", 200).why_not == "a record over the size limit"


def test_a_record_longer_than_arrows_block_is_parsed_whole(converter):
    """Arrow reads 1 MiB blocks; a longer record straddles two and is still parsed as one
    (what refuses it is its song's VARCHAR(512), a check of the parsed column)."""
    long = line(song="x" * (1 << 20))  # within a 4 MiB record limit
    assert converter.convert(obj(long), "k", 4 << 20).why_not == "song over 512 bytes"


def test_a_table_this_path_cannot_carry_has_no_converter():
    assert ColumnarConverter.create([("at", "timestamp without time zone")], ["at"], [], False) is None
    assert ColumnarConverter.create(COLUMNS, [None, *FIELDS[1:]], REASONS, False) is None  # nested jsonpath
    assert ColumnarConverter.create(COLUMNS, FIELDS, ["a rule without a flag"], False) is None
