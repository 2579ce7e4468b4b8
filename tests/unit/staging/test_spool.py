"""The PostgreSQL engine's spool of suspect records (include/sparkify/staging/spool.py):
length-prefixed frames that carry any byte of a record, the whole record's length and
SHA-256, and the depth guard that keeps very deep JSON away from PostgreSQL's parser."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import random
import re

import pytest

from include.sparkify.staging.lines import REJECT_TEXT_BYTES, escape
from include.sparkify.staging.spool import MAX_JSON_DEPTH, json_depth, spool, unspool

DEEP_REASON = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def round_trip(*records) -> list[tuple]:
    out = io.BytesIO()
    for record in records:
        spool(out, *record)
    out.seek(0)
    return list(unspool(out))


# ---------------------------------------------------------------- frames
AWKWARD = '{"a": "x\ry\nz\x01\x02\x00é€😀\\""}\r\n\x01\x02 \x00\x00\x00\x00\x00\x00\x00\x01'


def test_any_text_round_trips_with_its_length_and_digest():
    docs = [AWKWARD.encode(), b"", b"\n", b"\r", b"\x01\x02", "é".encode() * 1000]
    records = [(i, i + 1, b"", doc, None) for i, doc in enumerate(docs)]
    assert round_trip(*records) == [(i, i + 1, None, doc.decode(), len(doc), sha(doc)) for i, doc in enumerate(docs)]


def test_a_reason_and_a_given_whole_are_carried_as_they_are():
    whole = (123_456_789_012, "f" * 64)  # a record cut short: its own length and digest, not the text's
    reason = "invalid UTF-8 at byte 3 — été \r\n\x01".encode()
    assert round_trip((7, 2**31 - 1, reason, b"cut \\xff", whole)) == [
        (7, 2**31 - 1, reason.decode(), "cut \\xff", 123_456_789_012, "f" * 64)
    ]


def test_a_record_that_looks_like_a_frame_does_not_end_its_own():
    inner = io.BytesIO()
    spool(inner, 9, 9, b"r", b"d", None)
    fake = inner.getvalue().decode("latin-1").encode()  # a frame's bytes, as valid UTF-8 text
    got = round_trip((0, 1, b"", fake, None), (0, 2, b"", b"{}", None))
    assert [(n, doc.encode(), size) for _, n, _, doc, size, _ in got] == [(1, fake, len(fake)), (2, b"{}", 2)]


# Valid UTF-8 text with every awkward byte among ordinary characters. Seeded: the unit layer
# runs without Hypothesis (the Astro image has only requirements.txt).
PIECES = ["a", "{", "[", '"', "\\", "\r", "\n", "\x00", "\x01", "\x02", "é", "€", "😀", "\ufeff"]
REASONS = [b"", b"malformed", "invalid UTF-8 at byte 0 é\n".encode()]


@pytest.mark.parametrize("seed", range(20))
def test_spooled_records_come_back_in_order(seed):
    rng = random.Random(seed)
    records = []
    for _ in range(rng.randrange(9)):
        doc = "".join(rng.choices(PIECES, k=rng.randrange(60))).encode()
        whole = None if rng.random() < 0.5 else (rng.randrange(2**63), rng.randbytes(32).hex())
        records.append((rng.randrange(2**31), rng.randrange(1, 2**31), rng.choice(REASONS), doc, whole))
    got = round_trip(*records)
    assert len(got) == len(records)
    for (idx, number, reason, doc, whole), row in zip(records, got, strict=True):
        size, digest = whole if whole is not None else (len(doc), sha(doc))
        assert row == (idx, number, reason.decode() or None, doc.decode(), size, digest)


def test_the_whole_record_is_described_by_its_bytes():
    rng = random.Random(0)
    for _ in range(200):
        doc = (
            rng.randbytes(rng.randrange(200)).decode("utf-8", "replace").encode()
        )  # valid UTF-8, as split_lines hands on
        ((_, _, _, text, size, digest),) = round_trip((0, 1, b"", doc, None))
        assert (text.encode(), size, digest) == (doc, len(doc), hashlib.sha256(doc).hexdigest())


# ---------------------------------------------------------------- json_depth
def nested(depth: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return opener * depth + closer * depth


@pytest.mark.parametrize(
    ("doc", "depth"),
    [
        (b"", 0),
        (b"1", 0),
        (b"[]", 1),
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b"[[], [[]], []]", 3),
        (b'["[[[[[[", "{{{{"]', 1),  # brackets in strings do not count
        (b'{"[[[": "]]]]]]]]]]"}', 1),
        (b'["\\"[[[[", []]', 2),  # an escaped quote does not end the string
        (b'["\\\\", [[[]]]]', 4),  # an escaped backslash does not escape the quote after it
        (b'["\\\\\\"[[[["]', 1),
        (b'["\\u005b[[[", [[]]]', 3),
        (b'"[[[[[[', 0),  # an unterminated string: the rest is in it
        (b"]]]][[", 0),  # unbalanced: PostgreSQL stops at the first bracket
    ],
)
def test_json_depth(doc, depth):
    # Counted exactly up to limit + 1: below the true depth the answer only says "deeper".
    for limit in range(depth + 2):
        assert (json_depth(doc, limit) > limit) == (depth > limit), limit
    assert json_depth(doc, 0) == min(depth, 1)
    assert json_depth(doc, depth) == (depth if doc.count(b"[") + doc.count(b"{") > depth else 0)


def independent_depth(doc: bytes) -> int:
    """The nesting depth of a text, strings taken out by a regular expression first."""
    bare = re.sub(rb'"(?:[^"\\]|\\.)*("|\Z)', b"", doc, flags=re.DOTALL)
    steps = [1 if c in b"[{" else -1 for c in bare if c in b"[]{}"]
    return max(itertools.accumulate(steps, initial=0))


STRINGS = ["", "[", "]", "{", "}", '"', "\\", '\\"', '"[', "\\[", "é", "\x01", "[[[[[[[[[[["]


def random_value(rng: random.Random, room: int):
    """A random JSON value with awkward strings; returns (value, its nesting depth)."""
    kind = rng.randrange(4 if room else 2)
    if kind == 0:
        return rng.choice([None, 1, -2.5, True]), 0
    if kind == 1:
        return rng.choice(STRINGS) * rng.randrange(1, 3), 0
    items = [random_value(rng, room - 1) for _ in range(rng.randrange(4))]
    depth = 1 + max((d for _, d in items), default=0)
    if kind == 2:
        return [v for v, _ in items], depth
    return {rng.choice(STRINGS) + str(i): v for i, (v, _) in enumerate(items)}, depth


@pytest.mark.parametrize("seed", range(20))
def test_json_depth_of_any_json_value(seed):
    rng = random.Random(seed)
    for _ in range(20):
        value, depth = random_value(rng, rng.randrange(12))
        doc = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        assert independent_depth(doc) == depth
        for limit in range(depth + 2):
            assert (json_depth(doc, limit) > limit) == (depth > limit), (doc, limit)


def test_json_depth_stops_counting_past_its_limit():
    assert json_depth(nested(100_000), MAX_JSON_DEPTH) == MAX_JSON_DEPTH + 1
    assert json_depth(b"[" * 100_000, MAX_JSON_DEPTH) == MAX_JSON_DEPTH + 1  # unclosed
    assert json_depth(b'{"a":' * 100_000, MAX_JSON_DEPTH) == MAX_JSON_DEPTH + 1
    assert json_depth(b'["' + b"[" * 100_000 + b'"]', MAX_JSON_DEPTH) == 1


# ---------------------------------------------------------------- the depth guard
def test_a_too_deep_suspect_is_rejected_with_a_bounded_escaped_text():
    head = '{"s": "é\\r\x01\x02", "d": '.encode() + b"\r"  # awkward bytes before the brackets
    doc = head + nested(MAX_JSON_DEPTH + 1) + b"}"
    ((idx, number, reason, text, size, digest),) = round_trip((3, 4, b"", doc, None))
    assert (idx, number, reason) == (3, 4, DEEP_REASON)
    assert (size, digest) == (len(doc), sha(doc))  # of the whole record, not of the text kept
    assert text.encode() == escape(doc[:REJECT_TEXT_BYTES])
    assert text.startswith('{"s": "é\\r\\x01\\x02", "d": \\r[[[')
    assert not set(text) & {"\r", "\n", "\x00", "\x01", "\x02"}


def test_a_very_deep_suspect_keeps_only_the_start_of_its_text():
    doc = b'{"a": ' + nested(100_000, b'{"b": ', b"}") + b"}"
    ((_, _, reason, text, size, digest),) = round_trip((0, 1, b"", doc, None))
    assert reason == DEEP_REASON
    assert text.encode() == doc[:REJECT_TEXT_BYTES]  # nothing to escape here
    assert (size, digest) == (len(doc), sha(doc))


def test_a_multibyte_character_cut_by_the_text_limit_is_escaped():
    doc = b"x" * (REJECT_TEXT_BYTES - 1) + "é".encode() + nested(MAX_JSON_DEPTH + 1)
    ((_, _, reason, text, _, _),) = round_trip((0, 1, b"", doc, None))
    assert reason == DEEP_REASON and text == "x" * (REJECT_TEXT_BYTES - 1) + "\\xc3"


@pytest.mark.parametrize(
    "doc",
    [
        nested(MAX_JSON_DEPTH),  # as deep as allowed
        b'{"a": ' + nested(MAX_JSON_DEPTH - 1) + b"}",
        b'["' + b"[" * 10_000 + b'"]',  # many brackets, all in a string
        b"[" + b"[]," * 10_000 + b"[]]",  # many brackets, shallow
    ],
)
def test_deep_enough_suspects_are_left_to_postgresql_whole(doc):
    assert round_trip((0, 1, b"", doc, None)) == [(0, 1, None, doc.decode(), len(doc), sha(doc))]


def test_a_record_already_rejected_keeps_its_reason_and_text():
    deep = nested(MAX_JSON_DEPTH + 1)
    assert round_trip((0, 1, b"control character NUL in line", deep, None)) == [
        (0, 1, "control character NUL in line", deep.decode(), len(deep), sha(deep))
    ]
    cut = (10**9, "a" * 64)  # a record longer than the limit: its text is an escaped start already
    assert round_trip((0, 2, b"record longer than 5 bytes", deep, cut)) == [
        (0, 2, "record longer than 5 bytes", deep.decode(), 10**9, "a" * 64)
    ]
