"""One staging load's flow (include/sparkify/staging/__init__.py), with a fake engine."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from include.sparkify import config, staging
from include.sparkify.staging import check_rejects
from include.sparkify.staging.engine import Manifest
from include.sparkify.staging.objects import S3Object, fingerprint
from include.sparkify.staging.sources import EVENTS, SONGS, StageResult, StagingError, StagingRun
from include.sparkify.window import Window

FULL = Window()
HOUR = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
OBJECTS = [S3Object(f"{SONGS.prefix}/A/a.json", 10, "e1"), S3Object(f"{SONGS.prefix}/B/b.json", 20, "e2")]


class FakeEngine:
    name = "fake"
    s3_hook = None

    def __init__(self, manifest: Manifest | None = None, records: int = 0, rejected: int = 0) -> None:
        self._manifest, self.records, self.rejected = manifest, records, rejected
        self.calls: list = []
        self.samples = [("k.json", 7, "missing ts")]

    def manifest(self):
        self.calls.append("manifest")
        return self._manifest

    def mark_checked(self):
        self.calls.append("mark_checked")

    def commit(self):
        self.calls.append("commit")

    def clear(self):
        self.calls.append("clear")

    def load(self, objects, result):
        self.calls.append("load")
        result.objects, result.records = len(objects), self.records
        result.rows, result.rejected = self.records - self.rejected, self.rejected

    def record(self, print_, result):
        self.calls.append(("record", print_, result.rows))

    def after_commit(self, objects, result):
        self.calls.append("after_commit")

    def reject_samples(self, limit):
        return self.samples


@pytest.fixture
def listing(monkeypatch):
    """list_objects answers OBJECTS (plus what a test sets) and counts its calls."""
    state = SimpleNamespace(calls=0, missing=[], ignored=[])

    def list_objects(s3_client, run, s3_hook=None):
        state.calls += 1
        return list(OBJECTS), state.missing, state.ignored

    monkeypatch.setattr(staging, "list_objects", list_objects)
    return state


def stage(engine, source=SONGS, window=FULL, **options) -> StageResult:
    return staging._stage(StagingRun(source, window, "run-1", "bucket", **options), engine, None)


def test_unchanged_objects_are_not_reloaded(listing):
    engine = FakeEngine(Manifest(fingerprint(list(OBJECTS)), "run-0", 5000.0))
    result = stage(engine)
    assert result.skipped_unchanged and engine.calls == ["manifest", "mark_checked", "commit"]
    assert result.sources == [f"s3://bucket/{o.key}" for o in OBJECTS] and listing.calls == 1


def test_changed_objects_are_reloaded_and_recorded(listing):
    engine = FakeEngine(Manifest("an older print", "run-0", 5000.0), records=30)
    result = stage(engine)
    print_ = fingerprint(list(OBJECTS))
    assert engine.calls == ["manifest", "clear", "load", ("record", print_, 30), "commit", "after_commit"]
    assert not result.skipped_unchanged and (result.objects, result.rows) == (2, 30)


def test_force_reloads_without_reading_the_manifest(listing):
    engine = FakeEngine(Manifest(fingerprint(list(OBJECTS)), "run-0", 1.0))
    stage(engine, force=True)
    assert engine.calls[:2] == ["clear", "load"]


def test_an_hourly_run_after_a_recent_catalog_check_does_not_list(listing, monkeypatch):
    monkeypatch.setattr(config, "CATALOG_CHECK_MINUTES", 60.0)
    engine = FakeEngine(Manifest("any print", "run-0", 59.0))
    result = stage(engine, window=HOUR)
    assert result.skipped_unchanged and engine.calls == ["manifest"] and listing.calls == 0
    engine = FakeEngine(Manifest("any print", "run-0", 61.0))
    assert not stage(engine, window=HOUR).skipped_unchanged and listing.calls == 1
    engine = FakeEngine(Manifest(fingerprint(list(OBJECTS)), "run-0", 1.0))
    assert stage(engine, window=Window()).skipped_unchanged and listing.calls == 2  # a full load checks


def test_events_are_always_loaded_and_missing_day_files_reported(listing, caplog):
    listing.missing = [f"{EVENTS.prefix}/2018/11/2018-11-15-events.json"]
    engine = FakeEngine()
    with caplog.at_level(logging.WARNING):
        result = stage(engine, EVENTS, HOUR)
    assert engine.calls[:2] == ["clear", "load"]  # no manifest: the logs are never skipped
    assert result.missing_keys == listing.missing
    assert f"No source object s3://bucket/{listing.missing[0]}" in caplog.text


def test_too_many_rejects_fail_the_load_after_it_is_committed(listing):
    engine = FakeEngine(records=100, rejected=2)
    with pytest.raises(StagingError, match="2 of 100 records rejected"):
        stage(engine, max_reject_fraction=0.01)
    assert engine.calls[-2:] == ["commit", "after_commit"]


def run(max_reject_fraction: float) -> StagingRun:
    return StagingRun(EVENTS, HOUR, "run-1", "bucket", max_reject_fraction=max_reject_fraction)


def test_check_rejects_raises_over_the_threshold():
    result = StageResult("staging_events", "fake", records=200, rejected=3)
    with pytest.raises(StagingError) as error:
        check_rejects(run(0.01), result, FakeEngine())
    message = str(error.value)
    assert "staging_events: 3 of 200 records rejected (1.50%)" in message
    assert "run_id = 'run-1'" in message and "s3 object k.json line 7: missing ts" in message
    assert "over the reject threshold of 1.00%" in message


@pytest.mark.parametrize("rejected", [1, 2])  # 0.5% and exactly the threshold
def test_check_rejects_warns_under_the_threshold(caplog, rejected):
    result = StageResult("staging_events", "fake", records=200, rejected=rejected)
    with caplog.at_level(logging.WARNING):
        check_rejects(run(0.01), result, FakeEngine())
    assert f"{rejected} of 200 records rejected" in caplog.text
    assert "s3 object k.json line 7: missing ts" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_connection_of_another_type_is_refused(monkeypatch):
    from airflow.sdk import BaseHook

    monkeypatch.setattr(BaseHook, "get_connection", lambda conn_id: SimpleNamespace(conn_type="mysql"))
    with pytest.raises(StagingError, match="connection 'redshift' has type 'mysql'"):
        staging.stage_run(StagingRun(EVENTS, HOUR, "r", "b", redshift_conn_id="redshift"))
    assert set(staging.ENGINES) == {"redshift", "postgres"}
