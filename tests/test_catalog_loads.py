"""Catalog loads on the real data set (include/sparkify/catalog.py): an hourly run rewrites
songs and artists only when the staged song catalog changed since they were last published.

Starts from the full load (tests/real_data.py). A catalog change is made the way Stage_songs
leaves one, without restaging 14,896 objects from the S3 stand-in: a song row added to
staging_songs and staging_manifest's fingerprint changed, in one transaction. Expected
figures come from the JSON (tests/real_data.py's ``source``)."""

from __future__ import annotations

import pytest

from tests.conftest import warehouse
from tests.real_data import checksums, fetch
from tests.test_write_audit_publish import run_hour, states

pytestmark = pytest.mark.e2e

NEW_SONG = ("SOCATALOG0000000001", "A song added upstream", "ARCATALOG0000000001", "The Newcomers", 2018, 201.5)


def catalog_loads(stack) -> list[tuple]:
    return fetch(
        stack,
        "SELECT loaded_table, fingerprint, published_at IS NOT NULL FROM catalog_loads "
        "ORDER BY written_at, loaded_table, run_id",
    )


def staged_fingerprint(stack) -> str:
    return fetch(stack, "SELECT fingerprint FROM staging_manifest WHERE staging_table = 'staging_songs'")[0][0]


def load_result(dr, table: str) -> dict:
    task_id = {"songs": "Load_song_dim_table", "artists": "Load_artist_dim_table"}[table]
    ti = next(ti for ti in dr.get_task_instances() if ti.task_id == task_id)
    return ti.xcom_pull(task_ids=task_id)


def test_the_full_load_records_the_catalog_it_published(full_load, stack, source):
    _, songs = source
    fingerprint = staged_fingerprint(stack)
    # written by two tasks at once: in either order
    assert sorted(catalog_loads(stack)) == [("artists", fingerprint, True), ("songs", fingerprint, True)]
    assert fetch(stack, "SELECT COUNT(*) FROM songs")[0][0] == len({s["song_id"] for s in songs})


def test_an_hourly_run_leaves_an_unchanged_catalog_alone(full_load, dags, stack):
    before = checksums(stack, ["songs", "artists"])
    recorded = catalog_loads(stack)
    dr = run_hour(dags)
    assert dr.state == "success", states(dr)
    for table in ("songs", "artists"):
        result = load_result(dr, table)
        assert (result["catalog"], result["written"]) == ("unchanged", 0), result
    assert checksums(stack, ["songs", "artists"]) == before
    assert catalog_loads(stack) == recorded  # nothing new to record
    volumes = dict(fetch(stack, f"SELECT loaded_table, rows_loaded FROM load_volumes WHERE run_id = '{dr.run_id}'"))
    assert (volumes["songs"], volumes["artists"]) == (0, 0)


def test_a_changed_catalog_is_rewritten_by_the_next_hourly_run_and_then_left_alone(full_load, dags, stack, source):
    _, songs = source
    song_ids = {s["song_id"] for s in songs}
    artist_ids = {s["artist_id"] for s in songs}
    with warehouse(stack) as conn, conn.transaction():  # what Stage_songs commits for a changed catalog
        conn.execute(
            "INSERT INTO staging_songs (song_id, title, artist_id, artist_name, year, duration, num_songs) "
            "VALUES (%s, %s, %s, %s, %s, %s, 1)",
            NEW_SONG,
        )
        conn.execute(
            "UPDATE staging_manifest SET fingerprint = 'changed-upstream' WHERE staging_table = 'staging_songs'"
        )

    dr = run_hour(dags)
    assert dr.state == "success", states(dr)
    assert load_result(dr, "songs")["written"] == len(song_ids) + 1
    assert load_result(dr, "artists")["written"] == len(artist_ids) + 1
    assert fetch(stack, "SELECT COUNT(*) FROM songs")[0][0] == len(song_ids) + 1
    assert fetch(stack, f"SELECT name FROM artists WHERE artist_id = '{NEW_SONG[2]}'") == [(NEW_SONG[3],)]
    latest = fetch(
        stack,
        f"SELECT loaded_table, fingerprint, published_at IS NOT NULL FROM catalog_loads WHERE run_id = '{dr.run_id}'",
    )
    assert sorted(latest) == [("artists", "changed-upstream", True), ("songs", "changed-upstream", True)]

    after = checksums(stack, ["songs", "artists"])
    again = run_hour(dags)  # the same hour once more: the catalog is the published one now
    assert again.state == "success", states(again)
    assert load_result(again, "songs")["catalog"] == "unchanged"
    assert checksums(stack, ["songs", "artists"]) == after
