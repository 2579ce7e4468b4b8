"""What is staged (include/sparkify/staging/sources.py): sources, rules, one load's request."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from include.sparkify.staging.layout import Partition
from include.sparkify.staging.sources import EVENTS, RULES, SONGS, Source, StagingError, StagingRun, rule_case
from include.sparkify.window import Window
from tests.unit.staging.fakes import epoch_ms

HOUR = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
DAY_MS = 24 * 60 * 60 * 1000


def run(source: Source, window: Window = HOUR) -> StagingRun:
    return StagingRun(source, window, "run-1", "bucket")


def test_a_source_not_in_sources_is_refused():
    with pytest.raises(StagingError, match="unknown staging table 'users'"):
        run(Source("users", "users/", None, skip_unchanged=False))
    with pytest.raises(StagingError):  # a look-alike of EVENTS is not EVENTS
        run(replace(EVENTS, prefix="elsewhere"))
    assert run(EVENTS).table == "staging_events" and run(SONGS).table == "staging_songs"


def test_uri():
    assert run(SONGS).uri("song_data/A/a.json") == "s3://bucket/song_data/A/a.json"


def test_an_hourly_run_of_the_logs_reads_and_replaces_its_day_file():
    start = epoch_ms(datetime(2018, 11, 15, tzinfo=UTC))
    assert start == 1_542_240_000_000
    key = f"{EVENTS.prefix}/2018/11/2018-11-15-events.json"
    assert run(EVENTS).partitions() == [Partition(key, start, start + DAY_MS)]


def test_a_window_over_midnight_reads_both_days():
    window = Window(datetime(2018, 11, 30, 23, 30, tzinfo=UTC), datetime(2018, 12, 1, 0, 30, tzinfo=UTC))
    nov30, dec1 = epoch_ms(datetime(2018, 11, 30, tzinfo=UTC)), epoch_ms(datetime(2018, 12, 1, tzinfo=UTC))
    assert run(EVENTS, window).partitions() == [
        Partition(f"{EVENTS.prefix}/2018/11/2018-11-30-events.json", nov30, nov30 + DAY_MS),
        Partition(f"{EVENTS.prefix}/2018/12/2018-12-01-events.json", dec1, dec1 + DAY_MS),
    ]


def test_full_loads_and_songs_read_everything():
    assert run(EVENTS, Window()).partitions() is None
    assert run(SONGS).partitions() is None
    assert run(SONGS, Window()).partitions() is None


def test_rule_case_follows_the_rules_in_order():
    assert rule_case("staging_songs", "r.") == (
        "(CASE WHEN r.song_id IS NULL THEN 'missing song_id' WHEN r.artist_id IS NULL THEN 'missing artist_id' END)"
    )
    sql = rule_case("staging_events")
    assert re.findall(r"THEN '([^']*)'", sql) == [
        "missing ts",
        "userId is not a user number",
        "NextSong event without a userId",
        "NextSong event without sessionId or itemInSession",
    ]
    assert "{r}" not in sql and "WHEN ts IS NULL" in sql and "NOT userid ~ '^[0-9]{1,9}$'" in sql


def test_every_rule_has_a_python_form_that_compiles():
    for table, rules in RULES.items():
        assert rules, table
        for _, python, _ in rules:
            compile(python, "<rule>", "eval")


def test_prefix_tag_ends_with_one_slash():
    assert Source("t", "log_data", None, skip_unchanged=False).prefix_tag == "log_data/"
    assert Source("t", "log_data/", None, skip_unchanged=False).prefix_tag == "log_data/"
