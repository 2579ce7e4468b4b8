"""Upload a directory in the Sparkify S3 layout to a bucket, keeping objects already there."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def upload_tree(s3_client, bucket: str, root: Path, progress=None, threads: int = 8) -> dict:
    """Upload log_json_path.json, log_data/ and song_data/ under root; skip keys present with the same size."""
    root = Path(root)
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".md")]
    existing = {}
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            existing[item["Key"]] = item["Size"]
    todo = [p for p in files if existing.get(p.relative_to(root).as_posix()) != p.stat().st_size]

    def put(path: Path) -> None:
        s3_client.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())

    done = 0
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(put, todo):
            done += 1
            if progress and (done % 2000 == 0):
                progress(f"  uploaded {done}/{len(todo)} objects")
    return {"uploaded": len(todo), "kept": len(files) - len(todo)}
