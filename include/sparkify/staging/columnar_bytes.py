"""The columnar path's checks on bytes (columnar.py): an object's raw bytes before Arrow
parses them, and a parsed string column's values. Each scan is a single-byte search or one
search per window or per column: Python's search for a longer pattern runs at about
1.5 GB/s here, 0.3 s for each pattern over the 460 MB of the staging benchmark."""

from __future__ import annotations

from collections.abc import Iterable


def bytes_refused(data: bytes, min_bytes: int, max_bytes: int, max_record_bytes: int) -> tuple[str, int]:
    """Why the bytes cannot be taken whole (or ""), and their records: one per line."""
    if not min_bytes <= len(data) <= max_bytes:
        return "size", 0
    final = 1 if data.endswith(b"\n") else 0  # the final newline, if any
    if not (data.startswith(b"{") and data.endswith(b"}", 0, len(data) - final)):  # no BOM, array, blank end
        return "not one JSON object per line", 0
    if b"\r" in data or b"\x00" in data:
        return "CR or NUL", 0
    breaks = data.count(b"\n")
    if data.count(b"\n{") != breaks - final:  # a line that does not start an object
        return "a blank line", 0
    if not valid_utf8(data):
        return "invalid UTF-8", 0
    if len(data) > max_record_bytes and has_line_over(data, max_record_bytes):
        return "a record over the size limit", 0
    return "", breaks - final + 1


def valid_utf8(data: bytes) -> bool:
    """Whether the bytes are UTF-8, as Python's strict decoder judges it (no surrogate, no
    overlong form, nothing above U+10FFFF): Arrow validates the bytes in place as one string
    value, about ten times faster than decoding them (0.06 s against 0.6 s for the 460 MB of
    the staging benchmark). A whole object's str would also cost more memory than the object."""
    import pyarrow as pa

    offsets = pa.array([0, len(data)], pa.int32()).buffers()[1]  # objects are <= MAX_OBJECT_BYTES
    try:
        pa.Array.from_buffers(pa.utf8(), 1, [None, offsets, pa.py_buffer(data)]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def longest_line(data: bytes) -> int:
    """The longest line's length, without a list of the lines."""
    longest = start = 0
    while (end := data.find(b"\n", start)) != -1:
        longest, start = max(longest, end - start), end + 1
    return max(longest, len(data) - start)


def has_line_over(data: bytes, limit: int) -> bool:
    """Whether a line is longer than ``limit`` bytes. A line that long holds a whole aligned
    window of ``limit // 2`` bytes, so when every such window has a newline, none is: one
    search per window. Otherwise the lines are measured (``longest_line``)."""
    step = max(limit // 2, 1)
    if all(data.find(b"\n", start, start + step) != -1 for start in range(0, len(data) - step + 1, step)):
        return False
    return longest_line(data) > limit


def string_bytes(column) -> Iterable[bytes]:
    """A string column's values, each chunk's as one run of bytes (the values side by side)."""
    import pyarrow as pa

    for chunk in column.chunks:
        _, offsets_buffer, values = chunk.buffers()
        if len(chunk) and values is not None:
            offsets = pa.Array.from_buffers(pa.int32(), len(chunk) + 1, [None, offsets_buffer], offset=chunk.offset)
            start, end = offsets[0].as_py(), offsets[-1].as_py()
            yield values.slice(start, end - start).to_pybytes()
