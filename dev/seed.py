"""Upload a directory in the Sparkify S3 layout to a bucket, keeping objects already there."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def upload_tree(
    s3_client, bucket: str, root: Path, progress=None, threads: int = 8, progress_every: float = 5.0
) -> dict:
    """Upload log_json_path.json, log_data/ and song_data/ under root; skip keys present with the same size.

    With ``progress`` (a callable taking a line), reports how many objects there are to upload, then
    ``n/N`` at most every ``progress_every`` seconds and once at the end, so a long upload is never silent.
    """
    root = Path(root)
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".md")]
    existing = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            existing[item["Key"]] = item["Size"]
    todo = [p for p in files if existing.get(p.relative_to(root).as_posix()) != p.stat().st_size]
    if progress and todo:
        progress(f"  {len(todo)} of {len(files)} objects to upload, {len(files) - len(todo)} already there")

    def put(path: Path) -> int:
        body = path.read_bytes()
        s3_client.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=body)
        return len(body)

    done = sent = 0
    started = last = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for size in pool.map(put, todo):
            done += 1
            sent += size
            now = time.monotonic()
            if progress and (now - last >= progress_every or done == len(todo)):
                last = now
                progress(f"  uploaded {done}/{len(todo)} objects ({sent / 1e6:.1f} MB, {now - started:.0f}s)")
    return {"uploaded": len(todo), "kept": len(files) - len(todo)}
