"""Raw bytes to records: splitting a stream of chunks into lines, what a JSON-array file is,
and parsing jsonpaths expressions. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
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


NULL = b""  # no reject reason
BOM = b"\xef\xbb\xbf"
REJECT_TEXT_BYTES = 8192  # how much of a rejected record's text staging_rejects keeps


def digest(data: bytes) -> tuple[int, str]:
    """(byte length, SHA-256) of a record, kept with its reject whatever its length."""
    return len(data), hashlib.sha256(data).hexdigest()


class _LongLine:
    """A line past the record size limit, never held whole: its first bytes, its length and
    its SHA-256, fed as it streams by. Like a short line, it is the bytes between the line
    breaks without a CR before the LF (a CR is held back until the next bytes show it is not
    the last), and a line of blanks only is no record."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.size = 0
        self.sha = hashlib.sha256()
        self.cr = False  # a CR held back: part of the line only if more bytes follow
        self.blank = True

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self.cr:
            self._take(b"\r")
            self.cr = False
        if data.endswith(b"\r"):
            data, self.cr = data[:-1], True
        self._take(data)

    def _take(self, data: bytes) -> None:
        if len(self.head) < REJECT_TEXT_BYTES:
            self.head += data[: REJECT_TEXT_BYTES - len(self.head)]
        if self.blank and data.strip():
            self.blank = False
        self.size += len(data)
        self.sha.update(data)

    def records(self, number: int, max_bytes: int) -> Iterator[tuple[int, bytes, bytes, tuple[int, str]]]:
        if self.blank:
            return
        reason = b"record longer than %d bytes (SPARKIFY_MAX_RECORD_BYTES): %d bytes" % (max_bytes, self.size)
        yield number, reason, escape(bytes(self.head)), (self.size, self.sha.hexdigest())


def _over(size: int, chunk: bytes, max_bytes: int) -> bool:
    """Whether a line of ``size`` bytes so far, plus ``chunk``, is past the limit (a CR at the
    chunk's end may be the line's last byte, which does not count)."""
    return size + len(chunk) - chunk.endswith(b"\r") > max_bytes


def split_lines(chunks: Iterable[bytes], max_bytes: int = 1 << 20) -> Iterator[tuple]:
    """(line number, reject reason or NULL, text, digest) for each non-blank line of a stream
    of chunks, in time linear in the stream's size.

    Lines are split on LF; a trailing CR, a UTF-8 byte order mark and the missing final
    newline of the Sparkify files are all accepted. Lines that COPY could not carry (invalid
    UTF-8, NUL) come back with a reason and an escaped text. A line longer than ``max_bytes``
    is rejected as too long without ever being held whole: its reject keeps its first bytes,
    and ``digest`` (its byte length and SHA-256; None for the other lines, whose text is whole).
    """
    number = 0
    pieces: list[bytes] = []  # the current line so far, while it is within max_bytes
    size = 0
    long: _LongLine | None = None
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        if first:  # a byte order mark, even one split over the first chunks
            head = b"".join(pieces) + chunk
            if len(head) < len(BOM) and BOM.startswith(head):
                pieces, size = [head], len(head)
                continue
            first, pieces, size = False, [], 0
            chunk = head.removeprefix(BOM)
        cut = chunk.find(b"\n")
        if cut < 0:  # no line ends in this chunk: it all belongs to the current line
            if long is None and _over(size, chunk, max_bytes):
                long = _LongLine()
                for piece in pieces:
                    long.feed(piece)
                pieces, size = [], 0
            if long is not None:
                long.feed(chunk)
            else:
                pieces.append(chunk)
                size += len(chunk)
            continue
        # The current line ends at the chunk's first newline; the whole lines after it, up to
        # the chunk's last newline, are split at C speed; the rest starts the next line.
        last = chunk.rfind(b"\n")
        if long is not None:
            long.feed(chunk[:cut])
            number += 1
            yield from long.records(number, max_bytes)
            long = None
            block = chunk[cut + 1 : last]
            if cut < last:
                number = yield from _lines(block, number, max_bytes)
        else:
            pieces.append(chunk[:last])
            number = yield from _lines(b"".join(pieces), number, max_bytes)
        pieces, size = [chunk[last + 1 :]], len(chunk) - last - 1
        if _over(0, pieces[0], max_bytes):
            long = _LongLine()
            long.feed(pieces[0])
            pieces, size = [], 0
    if long is not None:
        yield from long.records(number + 1, max_bytes)
    elif size:
        yield from _lines(b"".join(pieces), number, max_bytes)


def _lines(block: bytes, number: int, max_bytes: int):
    clean = b"\x00" not in block
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
        if len(line) > max_bytes:
            long = _LongLine()
            long._take(line)  # its line break and trailing CR already cut
            yield from long.records(number, max_bytes)
        elif clean:
            yield number, NULL, line, None
        elif reason := _unsafe(line):
            yield number, reason, escape(line[:REJECT_TEXT_BYTES]), digest(line)
        else:
            yield number, NULL, line, None
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
    yield 1, ARRAY_FILE, escape(head[:ARRAY_TEXT_BYTES]), (None, None)  # the file is not read whole


def escape(data: bytes) -> bytes:
    """Bytes as UTF-8 text on one line: invalid bytes, NUL, the spool's delimiters and line
    breaks written as backslash escapes."""
    text = data.decode("utf-8", "backslashreplace")
    for char, escaped in (("\x00", "\\x00"), ("\x01", "\\x01"), ("\x02", "\\x02"), ("\r", "\\r"), ("\n", "\\n")):
        text = text.replace(char, escaped)
    return text.encode()


def _unsafe(line: bytes) -> bytes:
    """Why COPY could not carry a line as text (invalid UTF-8, NUL), or NULL."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return b"invalid UTF-8 at byte %d" % exc.start
    if b"\x00" in line:
        return b"control character NUL in line"
    return NULL
