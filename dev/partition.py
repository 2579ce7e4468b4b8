"""Re-partition a data set's log day files by a log key template (SPARKIFY_LOG_KEY_TEMPLATE):
every event goes to the object of the hour of its ``ts``, its line kept byte for byte. Used
by ``make run`` and ``make data`` when the template is not the day files, and by the tests
that load the same data in both layouts.

``python -m dev.partition SRC DST --template 'log_data/%Y/%m/%d/%H/'`` writes DST with the
partitioned logs, and the song catalog and jsonpaths file copied from SRC.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

OBJECT_NAME = "events.json"  # the object written in each partition of a prefix template


def partition_key(template: str, ts_ms: int) -> str:
    """The key of the object an event of ``ts_ms`` goes to."""
    hour = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).replace(minute=0, second=0, microsecond=0)
    key = hour.strftime(template)
    return key + OBJECT_NAME if key.endswith("/") else key


def partition_lines(lines: list[bytes], template: str, fallback_ts_ms: int) -> dict[str, list[bytes]]:
    """Lines grouped by their object key, in their order. A line without a readable ``ts``
    goes to the partition of ``fallback_ts_ms`` (its day file's start), so nothing is lost."""
    out: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        try:
            ts = json.loads(line)["ts"]
            ts = int(ts)
        except (ValueError, KeyError, TypeError):
            ts = fallback_ts_ms
        out[partition_key(template, ts)].append(line)
    return out


def partition_logs(src_logs: Path, dst_root: Path, template: str) -> dict:
    """Write every non-blank line of the ``*.json`` day files under ``src_logs`` to its hour's
    object under ``dst_root`` (no final newline, like the Udacity files)."""
    objects: dict[str, list[bytes]] = defaultdict(list)
    events = 0
    for path in sorted(src_logs.rglob("*.json")):
        day = datetime.strptime(path.name[:10], "%Y-%m-%d").replace(tzinfo=UTC)
        lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
        events += len(lines)
        for key, grouped in partition_lines(lines, template, int(day.timestamp() * 1000)).items():
            objects[key] += grouped
    for key, lines in objects.items():
        target = dst_root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"\n".join(lines))
    return {"events": events, "objects": len(objects)}


def partitioned_copy(src: Path, dst: Path, template: str) -> dict:
    """DST as SRC with its logs re-partitioned: log objects by the template, song_data/ and
    log_json_path.json copied. DST is replaced."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    summary = partition_logs(src / "log_data", dst, template)
    shutil.copytree(src / "song_data", dst / "song_data")
    shutil.copy2(src / "log_json_path.json", dst / "log_json_path.json")
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.partition", description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--template", required=True, help="e.g. log_data/%%Y/%%m/%%d/%%H/")
    args = parser.parse_args(argv)
    print(json.dumps(partitioned_copy(args.src, args.dst, args.template)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
