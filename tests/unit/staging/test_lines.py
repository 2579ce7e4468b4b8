"""Raw bytes to records (include/sparkify/staging/lines.py): lines, JSON-array files, jsonpaths."""

from __future__ import annotations

import hashlib
import random
import tracemalloc

import pytest

from include.sparkify.staging import lines as lines_module
from include.sparkify.staging.lines import (
    ARRAY_TEXT_BYTES,
    BOM,
    REJECT_TEXT_BYTES,
    array_file,
    escape,
    parse_jsonpath,
    split_lines,
)
from include.sparkify.staging.sources import StagingError


def lines(*chunks: bytes) -> list[tuple[int, str, str]]:
    out = []
    for n, reason, text, whole in split_lines(chunks):
        assert whole is None or reason  # only a rejected record carries its own length and digest
        out.append((n, reason.decode(), text.decode()))
    return out


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
        (4, "", '{"a":"\x01"}'),  # carried as it is: the spool is binary, PostgreSQL judges the JSON
        (5, "", '{"a":2}'),
    ]


def test_an_array_file_is_one_rejected_record_with_its_start_on_one_line():
    data = b'[\n  {"a": 1},\r\n  {"b": "\xc3\xa9\xff\x00"}\n]'
    ((number, reason, text, _),) = array_file(data)
    assert number == 1 and reason.startswith(b"a JSON array file")
    assert text == b'[\\n  {"a": 1},\\r\\n  {"b": "\xc3\xa9\\xff\\x00"}\\n]'
    assert b"\n" not in text and b"\r" not in text and b"\x00" not in text


def test_an_array_file_keeps_only_its_start():
    data = b"[" + b"1," * 10_000 + b"1]"
    ((_, _, text, _),) = array_file(data)
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


# ---------------------------------------------------------------- records of any length
def records(chunks, max_bytes: int = 1 << 20) -> list[tuple]:
    return list(split_lines(chunks, max_bytes))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunkings(data: bytes, seed: int = 0, count: int = 40):
    """``data`` cut into chunks in many ways: whole, a byte at a time, fixed sizes, random cuts."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for size in (2, 3, 7, 64, 99, 100, 101, 1000):
        yield [data[i : i + size] for i in range(0, len(data), size)]
    rng = random.Random(seed)
    for _ in range(count):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randrange(1, 12))))
        yield [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def too_long(max_bytes: int, size: int) -> bytes:
    return b"record longer than %d bytes (SPARKIFY_MAX_RECORD_BYTES): %d bytes" % (max_bytes, size)


LONG = b'{"a": "' + "é\x01\r\\".encode() * 100 + b'"}'  # 507 bytes, CR in the middle


def test_a_line_longer_than_max_bytes_is_rejected_whatever_the_chunking():
    data = b'{"a":1}\n' + LONG + b"\n" + LONG[:100] + b"\n\n" + LONG + b'\n{"a":2}\r\n' + LONG
    expected = [
        (1, b"", b'{"a":1}', None),
        (2, too_long(100, len(LONG)), escape(LONG), (len(LONG), sha(LONG))),
        (3, b"", LONG[:100], None),  # right at the limit: staged as it is
        (5, too_long(100, len(LONG)), escape(LONG), (len(LONG), sha(LONG))),
        (6, b"", b'{"a":2}', None),
        (7, too_long(100, len(LONG)), escape(LONG), (len(LONG), sha(LONG))),  # no final newline
    ]
    for chunks in chunkings(data):
        assert records(chunks, 100) == expected, [len(c) for c in chunks]


def test_a_rejected_long_line_keeps_only_its_first_bytes_escaped(monkeypatch):
    monkeypatch.setattr(lines_module, "REJECT_TEXT_BYTES", 8)
    line = b"a\x01\xc3\xa9\rbc\xc3\xa9xyz"  # the 8th byte is half of an é
    for chunks in chunkings(line + b"\n" + line, count=10):
        got = records(chunks, 9)
        assert [(n, text) for n, _, text, _ in got] == [
            (1, b"a\\x01\xc3\xa9\\rbc\\xc3"),
            (2, b"a\\x01\xc3\xa9\\rbc\\xc3"),
        ]
        assert {whole for *_, whole in got} == {(len(line), sha(line))}


def test_the_real_reject_text_limit():
    line = b"\x01" * (REJECT_TEXT_BYTES + 10)
    ((_, reason, text, whole),) = records([line], REJECT_TEXT_BYTES)
    assert reason == too_long(REJECT_TEXT_BYTES, len(line)) and whole == (len(line), sha(line))
    assert text == b"\\x01" * REJECT_TEXT_BYTES


@pytest.mark.parametrize("ending", [b"", b"\n", b"\r\n"])
def test_lines_right_at_max_bytes_are_staged(ending):
    line = b'{"a": "' + b"x" * 91 + b'"}'  # 100 bytes
    for chunks in chunkings(line + b"\n" + line + ending):  # also with the CR apart from its LF
        assert records(chunks, 100) == [(1, b"", line, None), (2, b"", line, None)]
    assert records([line + b"x"], 100) == [(1, too_long(100, 101), line + b"x", (101, sha(line + b"x")))]


def test_a_crlf_line_at_max_bytes_split_before_its_lf_is_staged():
    line = b"x" * 10
    assert records([line + b"\r\n"], 10) == [(1, b"", line, None)]  # one chunk: staged
    assert records([line + b"\r", b"\n"], 10) == [(1, b"", line, None)]  # split between CR and LF: the same


def test_a_long_crlf_line_has_the_same_digest_however_it_streams():
    line = b"x" * 11
    assert records([line + b"\r\n"], 10) == records([line + b"\r", b"\n"], 10)


def test_a_long_blank_line_is_blank_whatever_the_chunking():
    blank = b" " * 20 + b"\n"
    assert records([blank], 10) == []
    assert records([blank[:15], blank[15:]], 10) == []


def test_a_cr_in_the_middle_of_a_line_is_kept():
    data = b'{"a":"x\ry"}\r\n\r{"a":1}\n{"a":2}\r\r\n'
    expected = [(1, b"", b'{"a":"x\ry"}', None), (2, b"", b'\r{"a":1}', None), (3, b"", b'{"a":2}\r', None)]
    for chunks in chunkings(data):
        assert records(chunks) == expected


def test_a_bom_split_anywhere_in_the_first_chunks_is_dropped():
    data = BOM + b'{"a":1}\n' + BOM + b'{"a":2}'  # only the file's first BOM is a BOM
    expected = [(1, b"", b'{"a":1}', None), (2, b"", BOM + b'{"a":2}', None)]
    for chunks in chunkings(data):
        assert records(chunks) == expected
    assert records([b"\xef", b"", b"\xbb", b"\xbf", b"\n", b'{"a":1}']) == [(2, b"", b'{"a":1}', None)]
    assert (
        records([b"\xef", b"\xbb"])
        == records([b"\xef\xbb"])
        == [(1, b"invalid UTF-8 at byte 0", b"\\xef\\xbb", (2, sha(b"\xef\xbb")))]
    )
    assert records([b"\xef\xbb", b"x\n"]) == [(1, b"invalid UTF-8 at byte 0", b"\\xef\\xbbx", (3, sha(b"\xef\xbbx")))]
    assert records([BOM]) == records([BOM[:1], BOM[1:]]) == records([BOM + b"\r\n \n"]) == []


def test_invalid_utf8_and_nul_rejects_describe_the_whole_line():
    bad = b'{"a": "' + b"x" * (REJECT_TEXT_BYTES + 50) + b'\xff"}'
    nul = b'{"a": "\x00' + "é".encode() * REJECT_TEXT_BYTES + b'"}'
    data = bad + b"\r\n" + nul + b"\n" + b"\xed\xa0\x80\n"  # the last: a UTF-8 encoded lone surrogate
    expected = [
        (1, b"invalid UTF-8 at byte %d" % bad.index(b"\xff"), escape(bad[:REJECT_TEXT_BYTES]), (len(bad), sha(bad))),
        (2, b"control character NUL in line", escape(nul[:REJECT_TEXT_BYTES]), (len(nul), sha(nul))),
        (3, b"invalid UTF-8 at byte 0", b"\\xed\\xa0\\x80", (3, sha(b"\xed\xa0\x80"))),
    ]
    for chunks in chunkings(data, count=10):
        assert records(chunks) == expected
    assert expected[0][2] == b'{"a": "' + b"x" * (REJECT_TEXT_BYTES - 7)
    assert expected[1][2].startswith(b'{"a": "\\x00\xc3\xa9')


def test_any_chunking_of_awkward_bytes_gives_the_same_records():
    rng = random.Random(11)
    pieces = [b'{"a":1}', b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"\xc3\xa9", BOM, b" ", b"x" * 40, b"\x01"]
    for _ in range(60):
        data = b"".join(rng.choices(pieces, k=rng.randrange(1, 40)))
        whole = records([data], 50)
        for chunks in chunkings(data, seed=rng.randrange(1000), count=5):
            assert records(chunks, 50) == whole, (data, [len(c) for c in chunks])
        for _, reason, text, digest in whole:
            assert (digest is None) == (reason == b"")
            assert not reason or not {0, 10, 13} & set(text)  # a reject's text is on one line


def test_a_200_mib_line_streams_through_in_flat_memory():
    """One line of 200 chunks of 1 MiB: consumed as it comes, never held whole."""
    chunk = (bytes(b for b in range(256) if b != 10) * 4200)[: 1 << 20]  # NUL, CR, invalid UTF-8; no LF
    produced = []

    def stream():
        for i in range(200):
            produced.append(i)
            yield bytes(chunk)  # a fresh object each time: holding them would hold 200 MiB
        yield b"\n" + LONG[:50]

    expected_sha = hashlib.sha256()
    for _ in range(200):
        expected_sha.update(chunk)
    tracemalloc.start()
    try:
        got = split_lines(stream(), 1 << 20)
        first = next(got)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(produced) == 200  # the whole line was read to find its end...
    assert peak < 8 << 20, f"peak {peak} bytes"  # ...without keeping it
    number, reason, text, whole = first
    assert (number, reason) == (1, too_long(1 << 20, 200 << 20))
    assert whole == (200 << 20, expected_sha.hexdigest())
    assert text == escape(chunk[:REJECT_TEXT_BYTES]) and len(text) < 4 * REJECT_TEXT_BYTES
    assert list(got) == [(2, b"", LONG[:50], None)]
