"""What a run loads: its data interval, or everything when it has none."""

from __future__ import annotations

from datetime import UTC, datetime, timezone
from types import SimpleNamespace

from include.sparkify.window import Window

UTC = UTC


def run(start, end):
    return SimpleNamespace(data_interval_start=start, data_interval_end=end)


def test_hourly_window():
    w = Window.from_run(run(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC)))
    assert not w.full
    assert w.start_ms == 1542286800000 and w.end_ms == 1542286800000 + 3_600_000
    assert w.log_keys("log_data") == ["log_data/2018/11/2018-11-15-events.json"]
    assert w.start_sql == "TIMESTAMP '2018-11-15 13:00:00.000000'"
    assert w.describe() == {
        "mode": "interval",
        "start": "2018-11-15T13:00:00+00:00",
        "end": "2018-11-15T14:00:00+00:00",
    }


def test_last_hour_of_a_day_reads_only_that_day():
    w = Window(datetime(2018, 11, 30, 23, tzinfo=UTC), datetime(2018, 12, 1, 0, tzinfo=UTC))
    assert w.log_keys("log_data") == ["log_data/2018/11/2018-11-30-events.json"]


def test_window_across_days_and_months():
    w = Window(datetime(2018, 11, 30, 12, tzinfo=UTC), datetime(2018, 12, 1, 12, tzinfo=UTC))
    assert w.log_keys("p") == ["p/2018/11/2018-11-30-events.json", "p/2018/12/2018-12-01-events.json"]


def test_no_data_interval_is_a_full_load():
    for dag_run in (run(None, None), None, SimpleNamespace()):
        w = Window.from_run(dag_run)
        assert w.full and w.log_keys("log_data") == []
        assert w.start_ms == 0 and w.end_ms > datetime(9999, 1, 1, tzinfo=UTC).timestamp() * 1000
        assert w.describe()["mode"] == "full"


def test_naive_and_other_zones_are_utc():
    from datetime import timedelta

    plus2 = timezone(timedelta(hours=2))
    w = Window.from_run(run(datetime(2018, 11, 15, 15, tzinfo=plus2), datetime(2018, 11, 15, 16, tzinfo=plus2)))
    assert w.start == datetime(2018, 11, 15, 13, tzinfo=UTC)
    assert Window.from_run(run(datetime(2018, 11, 15, 13), datetime(2018, 11, 15, 14))).start_ms == 1542286800000
