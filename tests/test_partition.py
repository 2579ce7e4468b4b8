"""dev/partition.py: the same logs in another layout, every line kept byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dev.partition import partition_key, partition_lines, partition_logs


def ms(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def line(ts, **extra) -> bytes:
    return json.dumps({"ts": ts, "song": "Hoppípolla", **extra}, ensure_ascii=False).encode()


def test_partition_key_for_prefix_and_object_templates():
    assert partition_key("log_data/%Y/%m/%d/%H/", ms(2018, 11, 15, 13, 59, 59)) == "log_data/2018/11/15/13/events.json"
    assert partition_key("l/%Y-%m-%dT%H.json", ms(2018, 11, 15, 14)) == "l/2018-11-15T14.json"


def test_lines_go_to_their_hour_and_unreadable_ones_to_the_fallback():
    lines = [line(ms(2018, 11, 15, 13, 5)), b"{not json", line(ms(2018, 11, 15, 14, 0)), line(ms(2018, 11, 15, 13, 7))]
    got = partition_lines(lines, "h/%H/", fallback_ts_ms=ms(2018, 11, 15))
    assert got == {
        "h/13/events.json": [lines[0], lines[3]],
        "h/00/events.json": [lines[1]],
        "h/14/events.json": [lines[2]],
    }


def test_partition_logs_keeps_every_line_once(tmp_path):
    src = tmp_path / "src" / "log_data" / "2018" / "11"
    src.mkdir(parents=True)
    day15 = [line(ms(2018, 11, 15, 0, 1)), line(ms(2018, 11, 15, 23, 59), userId=""), line(ms(2018, 11, 15, 0, 2))]
    day16 = [line(ms(2018, 11, 16, 5))]
    (src / "2018-11-15-events.json").write_bytes(b"\n".join(day15) + b"\n\n")
    (src / "2018-11-16-events.json").write_bytes(b"\n".join(day16))  # no final newline
    out = tmp_path / "out"
    assert partition_logs(tmp_path / "src" / "log_data", out, "log_data/%Y/%m/%d/%H/") == {"events": 4, "objects": 3}
    files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*.json")}
    assert files == {
        "log_data/2018/11/15/00/events.json": day15[0] + b"\n" + day15[2],
        "log_data/2018/11/15/23/events.json": day15[1],
        "log_data/2018/11/16/05/events.json": day16[0],
    }
