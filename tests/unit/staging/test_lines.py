"""Raw bytes to records (include/sparkify/staging/lines.py): lines, JSON-array files, jsonpaths."""

from __future__ import annotations

import pytest

from include.sparkify.staging.lines import ARRAY_TEXT_BYTES, array_file, escape, parse_jsonpath, split_lines
from include.sparkify.staging.sources import StagingError


def lines(*chunks: bytes) -> list[tuple[int, str, str]]:
    return [(n, reason.decode(), text.decode()) for n, reason, text in split_lines(chunks)]


def test_no_final_newline_and_chunk_boundaries():
    data = b'{"a":1}\n{"a":2}\n{"a":3}'
    expected = [(1, "", '{"a":1}'), (2, "", '{"a":2}'), (3, "", '{"a":3}')]
    assert lines(data) == expected
    assert lines(data + b"\n") == expected
    for cut in range(1, len(data)):  # any chunking gives the same lines
        assert lines(data[:cut], data[cut:]) == expected
    assert lines(*(data[i : i + 1] for i in range(len(data)))) == expected  # a byte at a time
    assert lines(b"", data, b"") == expected  # empty chunks are skipped


def test_a_multibyte_character_split_between_chunks_is_rejoined():
    data = '{"a":"é"}\n{"a":"ü"}\n'.encode()
    expected = [(1, "", '{"a":"é"}'), (2, "", '{"a":"ü"}')]
    for cut in range(1, len(data)):
        assert lines(data[:cut], data[cut:]) == expected


def test_crlf_bom_and_blank_lines():
    data = b'\xef\xbb\xbf{"a":1}\r\n\r\n   \n{"a":"\xc3\xa9"}\r\n'
    assert lines(data) == [(1, "", '{"a":1}'), (4, "", '{"a":"é"}')]
    assert lines(b"\n\n") == [] and lines() == []


def test_a_bom_split_between_chunks_is_dropped_too():
    data = b'\xef\xbb\xbf{"a":1}\n'
    assert lines(data[:1], data[1:]) == [(1, "", '{"a":1}')]


def test_unsafe_lines_come_back_with_a_reason():
    data = b'{"a":1}\n{"a":"\xff"}\n{"a":"x\x00"}\n{"a":"\x01"}\n{"a":2}'
    assert lines(data) == [
        (1, "", '{"a":1}'),
        (2, "invalid UTF-8 at byte 6", '{"a":"\\xff"}'),
        (3, "control character NUL in line", '{"a":"x\\x00"}'),
        (4, "control character \\x01 in line", '{"a":"\\x01"}'),
        (5, "", '{"a":2}'),
    ]


def test_an_array_file_is_one_rejected_record_with_its_start_on_one_line():
    data = b'[\n  {"a": 1},\r\n  {"b": "\xc3\xa9\xff\x00"}\n]'
    ((number, reason, text),) = array_file(data)
    assert number == 1 and reason.startswith(b"a JSON array file")
    assert text == b'[\\n  {"a": 1},\\r\\n  {"b": "\xc3\xa9\\xff\\x00"}\\n]'
    assert b"\n" not in text and b"\r" not in text and b"\x00" not in text


def test_an_array_file_keeps_only_its_start():
    data = b"[" + b"1," * 10_000 + b"1]"
    ((_, _, text),) = array_file(data)
    assert text == data[:ARRAY_TEXT_BYTES]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [(b"plain", b"plain"), (b"a\x01b\x02c", b"a\\x01b\\x02c"), (b"\xe9t\xc3\xa9", b"\\xe9t\xc3\xa9")],
)
def test_escape(raw, escaped):
    assert escape(raw) == escaped


def test_parse_jsonpath():
    assert parse_jsonpath("$['artist']") == ["artist"]
    assert parse_jsonpath(" $[ 'a' ][\"b\"] ") == ["a", "b"]
    assert parse_jsonpath("$.a.b") == ["a", "b"]
    assert parse_jsonpath('$["a"][0]') == ["a", "0"]
    for bad in ("artist", "$", "$[artist]", "$.a..b", "$['a"):
        with pytest.raises(StagingError):
            parse_jsonpath(bad)
