"""The song catalog between checks: an hourly run keeps the staged catalog without even
listing it until SPARKIFY_CATALOG_CHECK_MINUTES have passed; then it lists and restages
only if the objects changed. A full load and restage_songs=true always check."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.sparkify import config, staging
from include.sparkify.window import Window
from tests.conftest import warehouse
from tests.test_bad_input import SONG

BUCKET = "sparkify-catalog-check"
HOUR = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))


def song_file(n: int) -> tuple[str, bytes]:
    body = {**SONG, "song_id": f"SOCHECK{n:011d}", "title": f"Song {n}"}
    return f"song_data/A/B/C/TRCHECK{n:011d}.json", json.dumps(body).encode()


@pytest.fixture
def s3(stack):
    client = stack.s3_client()
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    with warehouse(stack) as conn:
        for path in sorted((config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
        conn.execute("TRUNCATE staging_songs, staging_manifest")
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def put(s3, *numbers: int) -> None:
    for n in numbers:
        key, body = song_file(n)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def staged_ids(stack) -> set[str]:
    with warehouse(stack) as conn:
        return {r[0] for r in conn.execute("SELECT song_id FROM staging_songs").fetchall()}


def run_id(name: str) -> str:
    """A run id no other test module uses."""
    return f"catalog_check__{name}"


def stage(window: Window, run: str, force: bool = False) -> dict:
    return staging.stage(staging.SONGS, window, run_id=run_id(run), bucket=BUCKET, force=force)


def test_hourly_runs_between_checks_do_not_list_the_catalog(stack, s3, monkeypatch):
    put(s3, 1, 2)
    first = stage(Window(), "full_load")
    assert not first["skipped_unchanged"] and first["rows"] == 2

    listings = []
    real_list_objects = staging.list_objects

    def counting_list_objects(*args, **kwargs):
        listings.append(args[1].table)  # list_objects(s3_client, run)
        return real_list_objects(*args, **kwargs)

    monkeypatch.setattr(staging, "list_objects", counting_list_objects)
    put(s3, 3)  # a new song lands: the next check will see it, an hourly run before it will not
    hourly = stage(HOUR, "scheduled__13")
    assert hourly["skipped_unchanged"] and hourly["objects"] == 0
    assert listings == [] and staged_ids(stack) == {"SOCHECK00000000001", "SOCHECK00000000002"}

    monkeypatch.setattr(config, "CATALOG_CHECK_MINUTES", 0.0)  # the check is due
    checked = stage(HOUR, "scheduled__14")
    assert listings == ["staging_songs"] and not checked["skipped_unchanged"] and checked["rows"] == 3
    assert staged_ids(stack) == {f"SOCHECK{n:011d}" for n in (1, 2, 3)}

    again = stage(HOUR, "scheduled__15")  # due again, nothing changed: listed, kept, marked checked
    assert again["skipped_unchanged"] and len(listings) == 2
    with warehouse(stack) as conn:
        manifest_run, staged_at, checked_at = conn.execute(
            "SELECT run_id, staged_at, checked_at FROM staging_manifest WHERE staging_table = 'staging_songs'"
        ).fetchone()
    assert manifest_run == run_id("scheduled__14") and checked_at > staged_at


def test_a_full_load_or_a_forced_restage_always_checks(stack, s3):
    put(s3, 1)
    assert stage(Window(), "full_1")["rows"] == 1
    put(s3, 2)
    full = stage(Window(), "full_2")  # within the check interval, but a full load lists
    assert not full["skipped_unchanged"] and full["rows"] == 2
    put(s3, 3)
    forced = stage(HOUR, "manual__restage", force=True)
    assert not forced["skipped_unchanged"] and forced["rows"] == 3
    assert len(staged_ids(stack)) == 3
