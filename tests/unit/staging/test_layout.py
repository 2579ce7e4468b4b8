"""Where an hour's log events are (include/sparkify/staging/layout.py): the key template."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.sparkify.staging.layout import LogLayout, Partition
from include.sparkify.window import Window

DAYS = "log_data/%Y/%m/%Y-%m-%d-events.json"
HOURS = "log_data/%Y/%m/%d/%H/"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def ms(*args) -> int:
    return int(utc(*args).timestamp() * 1000)


def test_an_hour_of_day_files_reads_its_day_file():
    window = Window(utc(2018, 11, 15, 13), utc(2018, 11, 15, 14))
    assert LogLayout(DAYS, late_minutes=60).partitions(window) == [
        Partition("log_data/2018/11/2018-11-15-events.json", ms(2018, 11, 15), ms(2018, 11, 16))
    ]


def test_the_last_hour_of_a_day_also_reads_the_next_day_for_late_events():
    window = Window(utc(2018, 11, 30, 23), utc(2018, 12, 1, 0))
    assert LogLayout(DAYS, late_minutes=60).partitions(window) == [
        Partition("log_data/2018/11/2018-11-30-events.json", ms(2018, 11, 30), ms(2018, 12, 1)),
        Partition("log_data/2018/12/2018-12-01-events.json", ms(2018, 12, 1), ms(2018, 12, 2), late=True),
    ]
    # Without late minutes, midnight belongs to the next run only.
    assert [p.key for p in LogLayout(DAYS, late_minutes=0).partitions(window)] == [
        "log_data/2018/11/2018-11-30-events.json"
    ]


def test_hour_partitions_read_the_hour_and_the_late_hour_after_it():
    window = Window(utc(2018, 11, 15, 13), utc(2018, 11, 15, 14))
    assert LogLayout(HOURS, late_minutes=60).partitions(window) == [
        Partition("log_data/2018/11/15/13/", ms(2018, 11, 15, 13), ms(2018, 11, 15, 14)),
        Partition("log_data/2018/11/15/14/", ms(2018, 11, 15, 14), ms(2018, 11, 15, 15), late=True),
    ]
    assert LogLayout(HOURS, late_minutes=90).partitions(window)[-1].key == "log_data/2018/11/15/15/"
    assert all(p.is_prefix for p in LogLayout(HOURS).partitions(window))


def test_a_window_over_a_month_end_and_several_days():
    window = Window(utc(2018, 12, 30, 23, 30), utc(2019, 1, 2, 0, 0, 1))
    keys = [p.key for p in LogLayout(DAYS, late_minutes=0).partitions(window)]
    assert keys == [
        f"log_data/{d[:4]}/{d[5:7]}/{d}-events.json" for d in ("2018-12-30", "2018-12-31", "2019-01-01", "2019-01-02")
    ]


def test_keys_are_rendered_in_utc():
    window = Window(utc(2018, 11, 1, 23, 30), utc(2018, 11, 2, 0, 30))  # Window.from_run converts to UTC
    assert [p.key for p in LogLayout(DAYS, late_minutes=0).partitions(window)] == [
        "log_data/2018/11/2018-11-01-events.json",
        "log_data/2018/11/2018-11-02-events.json",
    ]


def test_a_full_load_has_no_partitions_and_reads_the_fixed_prefix():
    assert LogLayout(DAYS).partitions(Window()) == []
    assert LogLayout(DAYS).fixed_prefix == "log_data/"
    assert LogLayout("events/v2/%Y/%m/%d/%H/").fixed_prefix == "events/v2/"
    assert LogLayout("events/year=%Y/").fixed_prefix == "events/"


def test_what_one_key_covers():
    assert [LogLayout(t).unit for t in (HOURS, DAYS, "l/%Y/%m/", "l/%Y/", "l/all.json")] == [
        "hour",
        "day",
        "month",
        "year",
        None,
    ]
    month = LogLayout("l/%Y/%m/", late_minutes=0).partitions(Window(utc(2018, 12, 31, 5), utc(2018, 12, 31, 6)))
    assert month == [Partition("l/2018/12/", ms(2018, 12, 1), ms(2019, 1, 1))]


@pytest.mark.parametrize("template", ["log_data/%Y/%m/%d/%H/%M/", "log_data/%Y/%m/%d.csv", "log_data/%Y/%m/%d"])
def test_unsupported_templates_are_refused(template):
    with pytest.raises(ValueError, match="SPARKIFY_LOG_KEY_TEMPLATE"):
        LogLayout(template)


def test_negative_late_minutes_are_refused():
    with pytest.raises(ValueError, match="SPARKIFY_LATE_MINUTES"):
        LogLayout(DAYS, late_minutes=-1)
