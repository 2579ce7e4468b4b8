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


def test_utf8_is_checked_a_slice_at_a_time_across_slice_boundaries():
    euro = "€".encode()  # three bytes
    whole = b"a" * 4 + euro + b"b"  # the euro sign straddles the 5-byte slices
    assert columnar_bytes.valid_utf8(whole, slice_bytes=5)
    assert not columnar_bytes.valid_utf8(whole[:5], slice_bytes=5)  # cut inside the sign
    assert not columnar_bytes.valid_utf8(b"a" * 7 + b"\xed\xa0\x80", slice_bytes=5)  # an encoded surrogate
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
