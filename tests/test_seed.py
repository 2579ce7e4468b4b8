"""Seeding the local S3 stand-in inside moto's process (dev/seed.py `seed_local`, served by
dev/moto_server.py) leaves the bucket as the S3 API upload (`upload_tree`) does: the same
keys, bytes, sizes, ETags and content types, and objects already there are kept."""

from __future__ import annotations

import hashlib
import json

import pytest

from dev import seed
from dev.seed import NoSeedEndpoint, seed_local, upload_tree


def tree(root, files: dict[str, bytes]):
    for key, body in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    return root


FILES = {
    "log_json_path.json": json.dumps({"jsonpaths": ["$['artist']"]}).encode(),
    "log_data/2018/11/2018-11-01-events.json": '{"artist": "Beyoncé", "ts": 1}\n{"ts": 2}'.encode(),
    "song_data/A/B/C/TRABCAJ12903CDFCC2.json": b'{"song_id": "S1", "title": 66}',
    "song_data/A/B/C/empty.json": b"",
}


def objects(s3, bucket: str) -> dict[str, tuple]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    found = {}
    for item in listed:
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = (got["Body"].read(), item["Size"], item["ETag"], got["ContentType"])
    return found


def new_bucket(stack, name: str) -> str:
    stack.s3_client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


def test_seeding_puts_the_same_objects_as_the_s3_api(stack, tmp_path):
    root = tree(tmp_path / "data", {**FILES, "SOURCE.md": b"# notes, not data"})
    s3 = stack.s3_client()
    by_api, seeded = new_bucket(stack, "seed-by-api"), new_bucket(stack, "seed-in-moto")

    assert upload_tree(s3, by_api, root) == {"uploaded": 4, "kept": 0}
    assert stack.seed(root, seeded) == {"uploaded": 4, "kept": 0}

    expected = {key: (body, len(body), f'"{hashlib.md5(body).hexdigest()}"') for key, body in FILES.items()}
    assert {key: got[:3] for key, got in objects(s3, seeded).items()} == expected  # no SOURCE.md
    assert objects(s3, seeded) == objects(s3, by_api)


def test_seeding_again_keeps_what_is_there_and_replaces_a_file_whose_size_changed(stack, tmp_path):
    root = tree(tmp_path / "data", FILES)
    s3, bucket = stack.s3_client(), new_bucket(stack, "seed-again")
    assert stack.seed(root, bucket) == {"uploaded": 4, "kept": 0}
    assert stack.seed(root, bucket) == {"uploaded": 0, "kept": 4}

    day = "log_data/2018/11/2018-11-01-events.json"
    (root / day).write_bytes(FILES[day] + b'\n{"ts": 3}')
    (root / "log_data/2018/11/2018-11-02-events.json").write_bytes(b'{"ts": 4}')
    assert stack.seed(root, bucket) == {"uploaded": 2, "kept": 3}
    assert s3.get_object(Bucket=bucket, Key=day)["Body"].read() == FILES[day] + b'\n{"ts": 3}'


def test_seeding_an_unknown_bucket_or_directory_fails_naming_it(stack, tmp_path):
    with pytest.raises(RuntimeError, match="no bucket 'seed-nowhere'"):
        stack.seed(tree(tmp_path / "data", FILES), "seed-nowhere")
    with pytest.raises(RuntimeError, match=f"no directory {tmp_path / 'missing'}"):
        stack.seed(tmp_path / "missing", stack.bucket)


def test_the_endpoint_answers_only_with_the_stacks_token(stack, tmp_path):
    """It reads local files: a request without the token of the stack's state (0600) is refused."""
    root = tree(tmp_path / "data", FILES)
    bucket = new_bucket(stack, "seed-token")
    for token in ("", "not-the-token", stack.seed_token()[:-1]):
        with pytest.raises(RuntimeError, match="wrong X-Sparkify-Seed-Token"):
            seed_local(stack.s3_endpoint, token, bucket, root)
    assert stack.s3_client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert (stack.state_dir / "moto-seed-token.json").stat().st_mode & 0o777 == 0o600


def test_a_moto_without_the_endpoint_is_seeded_through_the_s3_api(stack, tmp_path, monkeypatch):
    """A moto that an earlier release started (make run leaves it up) has no endpoint: moto
    answers the POST as S3 would, and Stack.seed puts the objects with the S3 API instead."""
    root = tree(tmp_path / "data", FILES)
    bucket = new_bucket(stack, "seed-fallback")
    monkeypatch.setattr(seed, "SEED_PATH", "/_sparkify/no-such-endpoint")  # a path this server does not serve
    with pytest.raises(NoSeedEndpoint):
        seed_local(stack.s3_endpoint, stack.seed_token(), bucket, root)
    assert stack.seed(root, bucket) == {"uploaded": 4, "kept": 0}
    assert {key: got[0] for key, got in objects(stack.s3_client(), bucket).items()} == FILES
