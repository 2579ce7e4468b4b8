"""The columnar path's checks on bytes (include/sparkify/staging/columnar_bytes.py); what
they make the converter take or refuse: tests/unit/staging/test_columnar.py."""

from __future__ import annotations

import pytest

from include.sparkify.staging import columnar_bytes


def test_string_bytes_are_the_values_of_the_slice_only():
    import pyarrow as pa

    array = pa.array(["ab", None, ":nu", "ll", "\x00", "cd"])
    column = pa.chunked_array([array.slice(2, 2), array.slice(0, 2), array.slice(1, 1), array.slice(5, 0)])
    assert list(columnar_bytes.string_bytes(column)) == [b":null", b"ab", b""]  # the NUL is outside every slice
    assert list(columnar_bytes.string_bytes(pa.chunked_array([pa.array([None, None], pa.string())]))) == [b""]


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 8, 64])
def test_the_long_line_check_agrees_with_measuring_every_line(limit):
    import random

    rng = random.Random(limit)
    for _ in range(300):
        data = b"\n".join(
            b"x" * rng.choice([0, 1, limit // 2, limit - 1, limit, limit + 1, 3 * limit]) for _ in range(6)
        )
        assert columnar_bytes.has_line_over(data, limit) == (columnar_bytes.longest_line(data) > limit), (data, limit)


# Byte sequences at the edges of UTF-8: encoded surrogates, overlong forms, beyond U+10FFFF,
# cut or stray continuation bytes, and valid ones at each length's bounds.
UTF8_EDGES = [
    b"",
    b"a",
    "é€😀".encode(),
    b"\x7f",
    b"\xc2\x80",
    b"\xdf\xbf",
    b"\xe0\xa0\x80",
    b"\xef\xbf\xbf",
    b"\xf0\x90\x80\x80",
    b"\xf4\x8f\xbf\xbf",
    b"\xed\x9f\xbf",
    b"\xee\x80\x80",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xed\xa0\x80\xed\xb0\x80",  # surrogates, a pair too
    b"\xc0\x80",
    b"\xc1\xbf",
    b"\xe0\x80\x80",
    b"\xe0\x9f\xbf",
    b"\xf0\x80\x80\x80",
    b"\xf0\x8f\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xfe",
    b"\xff",
    b"\x80",
    b"\xbf",
    b"\xc2",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\xc2\x41",
    b"\xe2\x28\xa1",
]


@pytest.mark.parametrize("sequence", UTF8_EDGES, ids=lambda b: b.hex() or "empty")
def test_utf8_validity_is_python_s_strict_decoding(sequence):
    for data in (sequence, b'{"a":"' + sequence + b'"}', b"x" * 63 + sequence + b"y"):
        try:
            data.decode("utf-8")
            expected = True
        except UnicodeDecodeError:
            expected = False
        assert columnar_bytes.valid_utf8(data) is expected, data


def test_long_lines_are_measured():
    assert columnar_bytes.longest_line(b"ab\nabcd\n") == 4 and columnar_bytes.longest_line(b"abc") == 3


def test_bytes_refused_counts_one_record_per_line_and_says_why_it_refuses():
    refused = columnar_bytes.bytes_refused
    assert refused(b'{"a":1}\n{"a":2}', 1, 100, 50) == ("", 2)
    assert refused(b'{"a":1}\n{"a":2}\n', 1, 100, 50) == ("", 2)  # a final newline ends the last line
    assert refused(b'{"a":1}', 8, 100, 50)[0] == refused(b'{"a":1}', 1, 6, 50)[0] == "size"
    assert refused(b'{"a":1}\n\n{"a":2}', 1, 100, 50)[0] == "a blank line"
    assert refused(b'{"a":1}\r\n{"a":2}', 1, 100, 50)[0] == "CR or NUL"
    assert refused(b'{"a":"\xff"}', 1, 100, 50)[0] == "invalid UTF-8"
    assert refused(b'{"a":"' + b"x" * 60 + b'"}', 1, 100, 50)[0] == "a record over the size limit"
