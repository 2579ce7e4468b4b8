"""Raw bytes to records: splitting a stream of chunks into lines, a JSON-array file into its
elements, and parsing jsonpaths expressions. Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from include.sparkify.staging.sources import StagingError

_PATH_TOKEN = re.compile(r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\.([^.\[\]]+)|\[(\d+)\]""")


def parse_jsonpath(expr: str) -> list[str]:
    """``$['a']['b']`` / ``$.a.b`` / ``$['a'][0]`` -> ``['a', 'b']`` (a PostgreSQL text[] path)."""
    expr = expr.strip()
    if not expr.startswith("$"):
        raise StagingError(f"jsonpaths expression {expr!r} does not start with '$'")
    parts, pos = [], 1
    while pos < len(expr):
        match = _PATH_TOKEN.match(expr, pos)
        if not match:
            raise StagingError(f"cannot parse jsonpaths expression {expr!r} at position {pos}")
        parts.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    if not parts:
        raise StagingError(f"jsonpaths expression {expr!r} selects the whole record")
    return parts


NULL = b""  # an empty unquoted CSV field is NULL
BOM = b"\xef\xbb\xbf"


def split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, reject reason or NULL, text) for each non-blank line of a stream of chunks.

    Lines are split on LF; a trailing CR, a UTF-8 byte order mark and the missing final
    newline of the Sparkify files are all accepted. Lines that COPY could not carry (invalid
    UTF-8, NUL or the two delimiter bytes) come back with a reason and an escaped text.
    """
    number = 0
    rest = b""
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        block = rest + chunk
        if first:  # a byte order mark, even one split over the first chunks
            if len(block) < len(BOM) and BOM.startswith(block):
                rest = block
                continue
            first = False
            block = block.removeprefix(BOM)
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1 :]
        number = yield from _lines(block[:cut], number)
    if rest:
        yield from _lines(rest, number)


def _lines(block: bytes, number: int):
    clean = b"\x00" not in block and b"\x01" not in block and b"\x02" not in block
    if clean:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            clean = False
    for line in block.split(b"\n"):
        number += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if clean:
            yield number, NULL, line
            continue
        reason = _unsafe(line)
        if reason:
            yield (
                number,
                reason,
                line.decode("utf-8", "backslashreplace")
                .replace("\x00", "\\x00")
                .replace("\x01", "\\x01")
                .replace("\x02", "\\x02")
                .encode(),
            )
        else:
            yield number, NULL, line
    return number


def split_array(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """The elements of a file holding one JSON array, as (line where each starts, NULL, JSON).

    Whatever cannot be parsed from the first bad element on comes back as one rejected
    record holding the rest of the file, so nothing is lost.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, b"invalid UTF-8 at byte %d" % exc.start, data.decode("utf-8", "backslashreplace").encode()
        return
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    while True:
        pos = skip(pos)
        line += text.count("\n", counted, pos)
        counted = pos
        if pos < len(text) and text[pos] == "]" and not text[pos + 1 :].strip():
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            yield line, b"malformed JSON in a JSON array file", text[pos:].encode()
            return
        yield line, NULL, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif not (pos < len(text) and text[pos] == "]"):
            line += text.count("\n", counted, pos)
            counted = pos
            yield line, b"malformed JSON in a JSON array file", (text[pos:] or "<end of file>").encode()
            return


def _unsafe(line: bytes) -> bytes:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return b"invalid UTF-8 at byte %d" % exc.start
    for byte, name in ((b"\x00", b"NUL"), (b"\x01", b"\\x01"), (b"\x02", b"\\x02")):
        if byte in line:
            return b"control character %s in line" % name
    return b""
