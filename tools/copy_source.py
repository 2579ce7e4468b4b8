"""Copy the Udacity source data into the project bucket, server-side and repeatably.

A deployment tool, run from a clone of the project (never part of the Astro image).

What it copies (the layout the pipeline reads: ``include/sparkify/config.py``)::

    s3://udacity-dend/log_data/...            -> s3://<bucket>/log_data/...
    s3://udacity-dend/song_data/...           -> s3://<bucket>/song_data/...
    s3://udacity-dend/log_json_path.json      -> s3://<bucket>/log_json_path.json

How:

* Both sides are listed first. An object whose destination copy already has the same
  size and ETag is skipped, so a second run copies nothing and an interrupted run
  resumes where it stopped. An object whose source changed (other size or ETag) is
  copied again.
* Every copy is server-side: ``CopyObject`` (one request, no bytes through this
  machine) up to ``LARGE_OBJECT`` bytes, boto3's managed multipart copy
  (``UploadPartCopy``) above it. A multipart copy gets a new ETag, so the source's
  ETag is stored on the copy as ``x-amz-meta-source-etag`` and compared instead.
* Progress is printed while it runs: what was listed, then ``n/N`` done with copied,
  skipped and failed counts every few seconds, then a summary. It exits non-zero if
  any object failed (rerun to retry just those).

CLI (the project's virtualenv; AWS credentials as for the AWS CLI)::

    python -m tools.copy_source --bucket MY_BUCKET [--source-bucket udacity-dend]
        [--region us-west-2] [--endpoint-url URL] [--threads 16] [--dry-run]

or ``make copy-udacity BUCKET=MY_BUCKET``. The caller needs ``s3:ListBucket`` and
``s3:GetObject`` on the source, ``s3:ListBucket``, ``s3:PutObject`` (and for the
multipart path ``s3:GetObject`` on its own copies) on the destination.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from dev.console import say
from include.sparkify import config

SOURCE_BUCKET = "udacity-dend"
# CopyObject copies up to 5 GiB in one request; above this, use the managed multipart copy.
LARGE_OBJECT = 5 * 1024**3
SOURCE_ETAG_META = "source-etag"


def default_items() -> list[str]:
    """The source prefixes and keys the pipeline reads (``config``: SPARKIFY_LOG_PREFIX, ...)."""
    return [config.LOG_PREFIX.rstrip("/") + "/", config.SONG_PREFIX.rstrip("/") + "/", config.LOG_JSONPATHS_KEY]


@dataclass
class CopyResult:
    listed: int = 0
    copied: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    bytes_copied: int = 0

    def as_dict(self) -> dict:
        return {
            "listed": self.listed,
            "copied": self.copied,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "bytes_copied": self.bytes_copied,
        }


def list_objects(s3, bucket: str, item: str) -> dict[str, dict]:
    """key -> {"size", "etag"} under a prefix (item ending in '/') or for one exact key."""
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=item):
        for obj in page.get("Contents", []):
            if not item.endswith("/") and obj["Key"] != item:
                continue  # an exact key: ignore neighbours that merely share its prefix
            found[obj["Key"]] = {"size": obj["Size"], "etag": obj["ETag"]}
    return found


def _is_current(s3, dst_bucket: str, key: str, src: dict, dst: dict | None) -> bool:
    if dst is None or dst["size"] != src["size"]:
        return False
    if dst["etag"] == src["etag"]:
        return True
    if "-" in dst["etag"]:  # a multipart copy: compare the source ETag it recorded
        head = s3.head_object(Bucket=dst_bucket, Key=key)
        return head.get("Metadata", {}).get(SOURCE_ETAG_META) == src["etag"]
    return False


def copy_source(
    s3,
    dst_bucket: str,
    src_bucket: str = SOURCE_BUCKET,
    items: list[str] | None = None,
    threads: int = 16,
    progress=print,
    large_object: int = LARGE_OBJECT,
    dry_run: bool = False,
    progress_every: float = 5.0,
) -> CopyResult:
    """Copy ``items`` (prefixes ending in '/' or exact keys) from src_bucket to dst_bucket."""
    from boto3.s3.transfer import TransferConfig

    items = items or default_items()
    report = progress or (lambda message: None)
    result = CopyResult()
    todo: list[tuple[str, dict]] = []
    for item in items:
        source = list_objects(s3, src_bucket, item)
        dest = list_objects(s3, dst_bucket, item)
        result.listed += len(source)
        pending = [
            (key, meta)
            for key, meta in sorted(source.items())
            if not _is_current(s3, dst_bucket, key, meta, dest.get(key))
        ]
        result.skipped += len(source) - len(pending)
        todo.extend(pending)
        report(
            f"listed s3://{src_bucket}/{item}: {len(source)} objects, "
            f"{len(source) - len(pending)} already in s3://{dst_bucket}, {len(pending)} to copy"
        )
    if not result.listed:
        raise SystemExit(f"nothing found in s3://{src_bucket}/ under {items}: wrong bucket or no access?")
    total = len(todo)
    if dry_run or not total:
        report(f"{'dry run: would copy' if dry_run else 'nothing to copy:'} {total} of {result.listed} objects")
        return result

    # Multipart copies of at least 5 MiB parts (the S3 minimum) for objects above large_object.
    transfer = TransferConfig(
        multipart_threshold=max(large_object, 5 * 1024**2),
        multipart_chunksize=max(min(large_object, 512 * 1024**2), 5 * 1024**2),
    )
    lock = threading.Lock()

    def copy_one(key: str, meta: dict) -> int:
        source = {"Bucket": src_bucket, "Key": key}
        if meta["size"] <= large_object:
            s3.copy_object(Bucket=dst_bucket, Key=key, CopySource=source)
        else:
            s3.copy(
                source,
                dst_bucket,
                key,
                Config=transfer,
                ExtraArgs={"Metadata": {SOURCE_ETAG_META: meta["etag"]}, "MetadataDirective": "REPLACE"},
            )
        return meta["size"]

    started = last = time.monotonic()
    done = 0
    report(f"copying {total} objects with {threads} threads (server-side) ...")
    with ThreadPoolExecutor(max(1, threads)) as pool:
        futures = {pool.submit(copy_one, key, meta): key for key, meta in todo}
        for future in as_completed(futures):
            key = futures[future]
            with lock:
                done += 1
                try:
                    result.bytes_copied += future.result()
                    result.copied += 1
                except Exception as exc:  # noqa: BLE001 - reported per key, the run goes on
                    result.failed.append((key, f"{type(exc).__name__}: {exc}"))
                now = time.monotonic()
                if now - last >= progress_every or done == total:
                    last = now
                    report(
                        f"  {done}/{total} done: {result.copied} copied, {result.skipped} skipped, "
                        f"{len(result.failed)} failed ({result.bytes_copied / 1e6:.1f} MB, {now - started:.0f}s)"
                    )
    for key, error in result.failed[:20]:
        report(f"  FAILED {key}: {error}")
    report(
        f"done: {result.copied} copied, {result.skipped} already there, {len(result.failed)} failed "
        f"of {result.listed} objects in {time.monotonic() - started:.0f}s"
    )
    return result


def s3_client(region: str | None, endpoint_url: str | None, threads: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        config=Config(max_pool_connections=max(10, threads * 2), retries={"max_attempts": 10, "mode": "adaptive"}),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.copy_source", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True, help="the project bucket (destination)")
    parser.add_argument("--source-bucket", default=SOURCE_BUCKET)
    parser.add_argument(
        "--item",
        action="append",
        dest="items",
        help="a prefix ending in '/' or a key; repeatable (default: log_data/, song_data/, log_json_path.json)",
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"))
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("SPARKIFY_S3_ENDPOINT_URL"),
        help="an S3-compatible endpoint instead of AWS (e.g. the local moto stand-in)",
    )
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--dry-run", action="store_true", help="list and count, copy nothing")
    args = parser.parse_args(argv)

    result = copy_source(
        s3_client(args.region, args.endpoint_url, args.threads),
        args.bucket,
        src_bucket=args.source_bucket,
        items=args.items,
        threads=args.threads,
        progress=say,
        dry_run=args.dry_run,
    )
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
