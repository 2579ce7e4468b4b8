"""The S3 side of staging: which objects a load reads, their fingerprint, and the
jsonpaths file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

from include.sparkify.staging.fetch import ObjectReader
from include.sparkify.staging.lines import parse_jsonpath
from include.sparkify.staging.sources import StagingError, StagingRun

MAX_LISTED_SOURCES = 31  # a month of day files is listed key by key; more is summarised


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str


def list_objects(s3_client, run: StagingRun, s3_hook=None) -> tuple[list[S3Object], list[str], list[str]]:
    """The JSON objects a load reads, the expected keys that are missing, and keys ignored.

    A full load (or the song catalog) reads every ``.json`` object under the source's prefix;
    an hourly load of the logs reads the partitions of its window (layout.py): each exact
    key, or the ``.json`` objects under each prefix. Missing: the window's own partitions
    with nothing to read (the late ones may not exist yet). A local stand-in's keys are
    listed by fetch.ObjectReader with the hook's credentials; boto3 lists the others.
    """
    partitions = run.partitions()
    with ObjectReader(s3_client, s3_hook, run.bucket) as reader:
        if partitions is None:
            listed = [(run.source.prefix_tag, _list(s3_client, run.bucket, run.source.prefix_tag, reader), False)]
        else:
            listed = [
                (p.key, _list(s3_client, run.bucket, p.key, reader, exact=not p.is_prefix), p.late) for p in partitions
            ]
    objects, missing, ignored = [], [], []
    for key, found, late in listed:
        json_objects = [o for o in found if o.key.endswith(".json")]
        ignored += [o.key for o in found if not o.key.endswith(".json")]
        if not json_objects and partitions is not None and not late:
            missing.append(key)
        objects += json_objects
    return sorted(set(objects), key=lambda o: o.key), missing, ignored


def _list(s3_client, bucket: str, prefix: str, reader: ObjectReader, exact: bool = False) -> list[S3Object]:
    keys = reader.list(prefix)
    if keys is None:
        keys = [
            (item["Key"], int(item["Size"]), item.get("ETag", "").strip('"'))
            for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]
    return sorted((S3Object(*key) for key in keys if not exact or key[0] == prefix), key=lambda o: o.key)


def fingerprint(objects: Iterable[S3Object]) -> str:
    """One hash of the objects' keys, sizes and ETags: equal iff the same objects are listed."""
    digest = hashlib.sha256()
    for o in objects:
        digest.update(f"{o.key}\t{o.size}\t{o.etag}\n".encode())
    return digest.hexdigest()


def describe_sources(run: StagingRun, objects: list[S3Object]) -> list[str]:
    """The S3 objects a load read, for logs and asset-event metadata: every URI for a few,
    else one line for the prefix (a full catalog would not fit an XCom comfortably)."""
    if len(objects) <= MAX_LISTED_SOURCES:
        return [run.uri(obj.key) for obj in objects]
    return [f"{run.uri(run.source.prefix)}/ ({len(objects)} objects, {sum(o.size for o in objects)} bytes)"]


def read_jsonpaths(s3_client, bucket: str, key: str) -> list[list[str]]:
    """The paths of a Redshift jsonpaths file, each as a list of keys."""
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        raise StagingError(f"jsonpaths file s3://{bucket}/{key} does not exist") from None
    try:
        paths = json.loads(body)["jsonpaths"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StagingError(f"s3://{bucket}/{key} is not a jsonpaths file: {exc}") from None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise StagingError(f"s3://{bucket}/{key} is not a jsonpaths file: 'jsonpaths' is not a list of strings")
    return [parse_jsonpath(p) for p in paths]
