"""The PostgreSQL engine's spool of suspect records: those the fast path (rows.py) leaves to
PostgreSQL, written to a temporary file while the binary COPY of the others runs, then
replayed into ``raw_lines`` (include/sql/staging/postgres/raw_lines.sql) with a second
binary COPY. Length-prefixed frames: any byte of a record is carried as it is."""

from __future__ import annotations

import struct
from collections.abc import Iterator

from include.sparkify.staging.lines import REJECT_TEXT_BYTES, digest, escape

MAX_JSON_DEPTH = 1024  # deeper records are rejected before PostgreSQL parses them (its stack); orjson's limit too
_FRAME = struct.Struct(">iiIIq")  # object, line, reason length, text length, the record's bytes


def json_depth(doc: bytes, limit: int) -> int:
    """How deeply a JSON text nests arrays and objects, counted up to ``limit + 1`` (brackets
    inside strings do not count). Only suspects with many brackets are measured."""
    if doc.count(b"[") + doc.count(b"{") <= limit:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in doc:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def spool(out, idx: int, number: int, reason: bytes, doc: bytes, whole: tuple[int, str] | None) -> None:
    """Write one suspect record to the spool: its object and line, the reason it is already
    rejected for (if any), its text (whole, or the escaped start of a record cut short), and
    the byte length and SHA-256 of the whole record."""
    if whole is None:
        whole = digest(doc)
        if not reason and json_depth(doc, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            reason = b"JSON nested deeper than %d levels" % MAX_JSON_DEPTH
            doc = escape(doc[:REJECT_TEXT_BYTES])
    size, sha = whole  # (None, None): not known (an array file is never read whole)
    out.write(_FRAME.pack(idx, number, len(reason), len(doc), -1 if size is None else size))
    out.write(reason)
    out.write(doc)
    out.write((sha or "").ljust(64).encode())


def unspool(spool) -> Iterator[tuple]:
    """The spooled records as raw_lines rows."""
    while header := spool.read(_FRAME.size):
        idx, number, reason_len, doc_len, size = _FRAME.unpack(header)
        reason = spool.read(reason_len).decode()
        doc = spool.read(doc_len).decode()
        sha = spool.read(64).decode().strip()
        yield idx, number, reason or None, doc, None if size < 0 else size, sha or None
