"""What a run loads (include/sparkify/window.py): its data interval, or everything when it
has none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from include.sparkify.window import Window


def run(start, end):
    return SimpleNamespace(data_interval_start=start, data_interval_end=end)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_hourly_window():
    w = Window.from_run(run(utc(2018, 11, 15, 13), utc(2018, 11, 15, 14)))
    assert not w.full
    # 2018-11-15T13:00Z: 17850 days after 1970-01-01, plus 13 hours, in milliseconds.
    assert w.start_ms == (17850 * 86400 + 13 * 3600) * 1000 == 1542286800000
    assert w.end_ms == w.start_ms + 3_600_000
    assert w.start_sql == "TIMESTAMP '2018-11-15 13:00:00.000000'"
    assert w.end_sql == "TIMESTAMP '2018-11-15 14:00:00.000000'"
    assert w.describe() == {
        "mode": "interval",
        "start": "2018-11-15T13:00:00+00:00",
        "end": "2018-11-15T14:00:00+00:00",
    }


@pytest.mark.parametrize("dag_run", [run(None, None), None, SimpleNamespace(), run(utc(2018, 11, 1), None)])
def test_no_data_interval_is_a_full_load(dag_run):
    w = Window.from_run(dag_run)
    assert w.full
    assert w.start_ms == 0 and w.end_ms > utc(9999, 1, 1).timestamp() * 1000
    assert w.start_sql == "TIMESTAMP '1970-01-01 00:00:00.000000'"
    assert w.end_sql.startswith("TIMESTAMP '9999-")
    assert w.describe() == {"mode": "full", "start": None, "end": None}


def test_naive_and_other_zones_are_utc():
    plus2 = timezone(timedelta(hours=2))
    w = Window.from_run(run(datetime(2018, 11, 15, 15, tzinfo=plus2), datetime(2018, 11, 15, 16, tzinfo=plus2)))
    assert w.start == utc(2018, 11, 15, 13) and w.end == utc(2018, 11, 15, 14)
    assert Window.from_run(run(datetime(2018, 11, 15, 13), datetime(2018, 11, 15, 14))).start_ms == 1542286800000


def test_a_day_in_another_zone_is_the_utc_day():
    """01:30 in UTC+2 is 23:30 UTC the day before (the day file is then the UTC day's)."""
    plus2 = timezone(timedelta(hours=2))
    w = Window.from_run(run(datetime(2018, 11, 2, 1, 30, tzinfo=plus2), datetime(2018, 11, 2, 2, 30, tzinfo=plus2)))
    assert (w.start, w.end) == (utc(2018, 11, 1, 23, 30), utc(2018, 11, 2, 0, 30))
    assert w.start.tzinfo == UTC


def test_milliseconds_survive_in_sql():
    w = Window(utc(2018, 11, 15, 13, 0, 0, 796000), utc(2018, 11, 15, 14))
    assert w.start_ms % 1000 == 796
    assert w.start_sql == "TIMESTAMP '2018-11-15 13:00:00.796000'"


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("2018-11-01T13:00:00", utc(2018, 11, 1, 13), utc(2018, 11, 1, 14)),
        ("2018-11-30", utc(2018, 11, 30), utc(2018, 12, 1)),
        ("2018-11", utc(2018, 11, 1), utc(2018, 12, 1)),
        ("2018-12", utc(2018, 12, 1), utc(2019, 1, 1)),
    ],
)
def test_a_partition_key_is_its_hour_day_or_month(key, start, end):
    w = Window.from_partition(key)
    assert (w.start, w.end) == (start, end)
    assert Window.for_rollup(SimpleNamespace(partition_key=key)) == w


def test_no_partition_key_is_every_day_and_a_bad_one_is_refused():
    assert Window.from_partition(None).full and Window.for_rollup(SimpleNamespace(partition_key=None)).full
    assert Window.for_rollup(SimpleNamespace()).full  # a run of an Airflow without partitions
    for bad in ("2018-11-01T13:00:00+00:00", "2018-11-01 13:00", "yesterday"):
        with pytest.raises(ValueError, match="not an hour, day or month partition key"):
            Window.from_partition(bad)


def test_hour_keys_are_every_hour_of_a_window_in_the_mappers_format():
    keys = Window(utc(2018, 11, 30, 22), utc(2018, 12, 1, 1)).hour_keys()
    assert keys == ["2018-11-30T22:00:00", "2018-11-30T23:00:00", "2018-12-01T00:00:00"]
    assert len(Window.from_partition("2018-11-15").hour_keys()) == 24
