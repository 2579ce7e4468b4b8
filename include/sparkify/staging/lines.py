"""Raw bytes to records: splitting a stream of chunks into lines, what a JSON-array file is,
and parsing jsonpaths expressions. Pure functions, no I/O."""

from __future__ import annotations

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
            yield number, reason, escape(line)
        else:
            yield number, NULL, line
    return number


ARRAY_FILE = (
    b"a JSON array file: COPY stages one root-level JSON object per record, and Redshift reads the whole "
    b"array as one record"
)
ARRAY_TEXT_BYTES = 4096  # how much of an array file's start its reject keeps


def array_file(head: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """A file that is one JSON array, as the one record Redshift's COPY sees in it: rejected on
    both engines ("COPY loads each JSON object or array into one row", and an array is no row
    of a staging table: https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html).
    Its reject keeps the start of the file, made safe to carry on one line."""
    yield 1, ARRAY_FILE, escape(head[:ARRAY_TEXT_BYTES])


def escape(data: bytes) -> bytes:
    """Bytes as UTF-8 text on one line: invalid bytes, NUL, the spool's delimiters and line
    breaks written as backslash escapes."""
    text = data.decode("utf-8", "backslashreplace")
    for char, escaped in (("\x00", "\\x00"), ("\x01", "\\x01"), ("\x02", "\\x02"), ("\r", "\\r"), ("\n", "\\n")):
        text = text.replace(char, escaped)
    return text.encode()


def _unsafe(line: bytes) -> bytes:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return b"invalid UTF-8 at byte %d" % exc.start
    for byte, name in ((b"\x00", b"NUL"), (b"\x01", b"\\x01"), (b"\x02", b"\\x02")):
        if byte in line:
            return b"control character %s in line" % name
    return b""
