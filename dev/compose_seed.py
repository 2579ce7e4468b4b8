"""The `s3-seed` one-shot service of docker-compose.override.yml (`astro dev start`).

Waits for the S3 stand-in, creates the bucket, generates the deterministic Sparkify sample
(dev/datagen.py) and uploads it, keeping objects already there; then exits 0
so the Airflow services that wait for it start. Running it again uploads nothing new.

It runs in the moto image (Python + boto3, no Airflow), so it imports only the standard
library, boto3, dev.seed and dev.datagen. Settings from the environment:

    SPARKIFY_S3_ENDPOINT_URL   http://s3:5000        the S3 stand-in
    SPARKIFY_BUCKET            sparkify              must equal the s3_bucket variable
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION
    SPARKIFY_SEED_EVENTS / _SONGS / _USERS / _DAYS   the sample's size (default 20000/500/100/30)
    SPARKIFY_SEED_DIR          upload this directory (same layout) instead of generating one
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from dev import console
from dev.seed import upload_tree


def say(message: str) -> None:
    console.say(message, tag="s3-seed")


def client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-west-2"))


def wait_for_s3(s3, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.list_buckets()
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the S3 stand-in did not answer within {timeout:.0f}s: {exc}") from exc
            time.sleep(1)


def ensure_bucket(s3, bucket: str, region: str) -> bool:
    """Create the bucket unless it exists; True if it was created."""
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except s3.exceptions.ClientError:
        pass
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **kwargs)
    return True


def sample(out: Path) -> Path:
    from dev.datagen import GeneratorSpec, generate

    spec = GeneratorSpec(
        events=int(os.environ.get("SPARKIFY_SEED_EVENTS", 20_000)),
        songs=int(os.environ.get("SPARKIFY_SEED_SONGS", 500)),
        users=int(os.environ.get("SPARKIFY_SEED_USERS", 100)),
        days=int(os.environ.get("SPARKIFY_SEED_DAYS", 30)),
    )
    say(f"generating the sample: {spec.events} events over {spec.days} days, {spec.songs} songs ...")
    stats = generate(out, spec)
    say(f"  {stats['log_files']} log files, {stats['song_files']} song files ({stats['bytes'] / 1e6:.1f} MB)")
    return out


def main() -> int:
    endpoint = os.environ.get("SPARKIFY_S3_ENDPOINT_URL", "http://s3:5000")
    bucket = os.environ.get("SPARKIFY_BUCKET", "sparkify")
    region = os.environ.get("AWS_DEFAULT_REGION", "us-west-2")
    s3 = client(endpoint)
    say(f"waiting for S3 at {endpoint} ...")
    wait_for_s3(s3)
    created = ensure_bucket(s3, bucket, region)
    say(f"bucket s3://{bucket} {'created' if created else 'already there'}")
    with tempfile.TemporaryDirectory(prefix="sparkify-seed-") as tmp:
        source = Path(os.environ["SPARKIFY_SEED_DIR"]) if os.environ.get("SPARKIFY_SEED_DIR") else sample(Path(tmp))
        say(f"uploading {source} to s3://{bucket}/ (objects already there are kept) ...")
        result = upload_tree(s3, bucket, source, progress=say)
    say(f"done: {result['uploaded']} uploaded, {result['kept']} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
