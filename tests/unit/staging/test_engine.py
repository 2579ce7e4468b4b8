"""The bookkeeping both engines share (include/sparkify/staging/engine.py), on a recorder."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.sparkify.staging.engine import Engine, Manifest
from include.sparkify.staging.sources import EVENTS, SONGS, StageResult, StagingRun
from include.sparkify.window import Window
from tests.unit.staging.fakes import Recorder, epoch_ms

OVER_MIDNIGHT = Window(datetime(2018, 11, 30, 23, 30, tzinfo=UTC), datetime(2018, 12, 1, 0, 30, tzinfo=UTC))
DAY_MS = 86_400_000


class RecordingEngine(Engine):
    name = "test"

    def __init__(self, run: StagingRun, conn: Recorder) -> None:
        super().__init__(run, s3_hook=None, s3_client=None)
        self.recorder = conn

    def connect(self) -> Recorder:
        return self.recorder


def engine(source=EVENTS, window=OVER_MIDNIGHT, answers=None) -> tuple[Engine, Recorder]:
    conn = Recorder(answers)
    eng = RecordingEngine(StagingRun(source, window, "run-1", "bucket"), conn)
    eng.conn = conn
    return eng, conn


def first_words(conn: Recorder) -> list[str]:
    return [" ".join(sql.split()[:3]) for sql, _ in conn.calls]


def test_clear_of_an_hourly_run_removes_its_day_files_then_its_rejects():
    eng, conn = engine()
    eng.clear()
    nov30, dec1 = epoch_ms(datetime(2018, 11, 30, tzinfo=UTC)), epoch_ms(datetime(2018, 12, 1, tzinfo=UTC))
    base = {"table": "staging_events", "run_id": "run-1", "prefix_tag": f"{EVENTS.prefix}/"}
    nov30_key = f"{EVENTS.prefix}/2018/11/2018-11-30-events.json"
    dec1_key = f"{EVENTS.prefix}/2018/12/2018-12-01-events.json"
    assert first_words(conn) == ["DELETE FROM staging_events"] * 2 + [
        "DELETE FROM staging_rejects",
        "DELETE FROM staging_drift",  # the run's own rejects and drift counts, of an earlier try
    ]
    assert [params for _, params in conn.calls] == [
        {**base, "key": nov30_key, "key_length": len(nov30_key), "start_ms": nov30, "end_ms": nov30 + DAY_MS},
        {**base, "key": dec1_key, "key_length": len(dec1_key), "start_ms": dec1, "end_ms": dec1 + DAY_MS},
        {"table": "staging_events", "run_id": "run-1"},
        {"table": "staging_events", "run_id": "run-1"},
    ]
    # a day file is one exact key; its rows, and the full load's rows of its day, go
    assert "source_key = %(key)s" in conn.calls[0][0] and "ts < %(end_ms)s" in conn.calls[0][0]
    assert "LEFT(" not in conn.calls[0][0]


def test_clear_of_an_hour_partition_removes_every_key_under_it(monkeypatch):
    from dataclasses import replace

    from include.sparkify.staging import sources
    from include.sparkify.staging.layout import LogLayout

    hourly = replace(EVENTS, layout=LogLayout("log_data/%Y/%m/%d/%H/", late_minutes=0))
    monkeypatch.setitem(sources.SOURCES, "staging_events", hourly)
    window = Window(datetime(2018, 11, 30, 13, tzinfo=UTC), datetime(2018, 11, 30, 14, tzinfo=UTC))
    eng, conn = engine(hourly, window)
    eng.clear()
    (sql, params), _rejects, _drift = conn.calls
    assert "LEFT(source_key, %(key_length)s) = %(key)s" in sql
    start = epoch_ms(datetime(2018, 11, 30, 13, tzinfo=UTC))
    assert params["key"] == "log_data/2018/11/30/13/" and params["key_length"] == len("log_data/2018/11/30/13/")
    assert (params["start_ms"], params["end_ms"]) == (start, start + 3_600_000)


@pytest.mark.parametrize(("source", "window"), [(EVENTS, Window()), (SONGS, OVER_MIDNIGHT), (SONGS, Window())])
def test_clear_of_a_full_load_empties_the_table(source, window):
    eng, conn = engine(source, window)
    eng.clear()
    assert conn.calls[0] == (f"DELETE FROM {source.table}", None)
    assert first_words(conn)[1:] == ["DELETE FROM staging_rejects", "DELETE FROM staging_drift"]


def test_manifest_gives_minutes_since_the_check():
    row = ("abc", "run-0", datetime(2018, 11, 15, 10, 0), datetime(2018, 11, 15, 11, 30, 30))
    eng, conn = engine(SONGS, answers=[("FROM staging_manifest", [row])])
    assert eng.manifest() == Manifest("abc", "run-0", 90.5)
    assert conn.calls[0][1] == {"table": "staging_songs", "run_id": "run-1"}
    assert "LOCALTIMESTAMP AS now" in conn.calls[0][0]
    assert engine(SONGS, answers=[("FROM staging_manifest", [])])[0].manifest() is None


def test_record_writes_the_figures():
    eng, conn = engine(SONGS)
    eng.record("print", StageResult("staging_songs", "test", objects=3, bytes=40, rows=7))
    assert first_words(conn) == ["DELETE FROM staging_manifest", "INSERT INTO staging_manifest"]
    assert conn.calls[1][1] == {
        "table": "staging_songs",
        "run_id": "run-1",
        "fingerprint": "print",
        "objects": 3,
        "bytes": 40,
        "rows_staged": 7,
    }


def test_drift_keys_are_cut_to_256_bytes_not_characters():
    eng, conn = engine()
    long_key = "é" * 200  # 400 bytes: staging_drift.key_name is VARCHAR(256), counted in bytes on Redshift
    eng.record_drift({"records": 5, "keys": {long_key: {"kind": "unmapped", "records": 2}}})
    [(sql, params)] = conn.calls
    assert sql.split()[:3] == ["INSERT", "INTO", "staging_drift"]
    assert params["key_0"] == "é" * 128 and params["records_read"] == 5


def test_rejected_and_reject_samples():
    samples = [("k", 3, "missing ts")]
    eng, conn = engine(answers=[("COUNT(*) AS rejected", [(12,)]), ("LIMIT 5", samples)])
    assert eng.rejected() == 12
    assert eng.reject_samples(limit=5) == samples
    assert [params for _, params in conn.calls] == [{"table": "staging_events", "run_id": "run-1"}] * 2


def test_commit_then_rollback_and_close_on_exit():
    eng, conn = engine()
    eng.conn = None
    with eng:
        eng.commit()
    assert conn.events == ["commit", "rollback", "close"]


def test_a_failed_load_is_rolled_back():
    eng, conn = engine()
    eng.conn = None
    with pytest.raises(ZeroDivisionError), eng:
        1 / 0  # noqa: B018
    assert conn.events == ["rollback", "close"]
