"""Schema drift (include/sparkify/staging/drift.py): the counts of keys staging does not map
and of mapped keys missing, from records (PostgreSQL) or per-key counts (Redshift's UNPIVOT)."""

from __future__ import annotations

import logging

import pytest

from include.sparkify import config
from include.sparkify.staging import drift

MAPPED = ["artist", "ts", "userId"]


def test_the_counter_counts_unknown_and_missing_keys_per_key():
    counter = drift.DriftCounter(MAPPED)
    records = [
        {"artist": "a", "ts": 1, "userId": "1", "mood": "up"},
        {"artist": "a", "ts": 2, "mood": "down", "tempo": 120},
        {"ts": 3, "userId": "3"},
    ]
    for record in records:
        counter.observe(record)
    assert counter.summary(records=10) == {
        "records": 10,
        "keys": {
            "mood": {"kind": "unknown", "records": 2},
            "tempo": {"kind": "unknown", "records": 1},
            "artist": {"kind": "missing", "records": 1},
            "userId": {"kind": "missing", "records": 1},
        },
        "warn": True,
    }


def test_per_key_counts_give_the_same_summary_as_the_records():
    records = [
        {"artist": "a", "ts": 1, "mood": "up"},
        {"artist": "b", "ts": 2, "userId": "2"},
        {"ts": 3, "userId": "3"},
    ]
    counter = drift.DriftCounter(MAPPED)
    for record in records:
        if record.keys() != set(MAPPED):
            counter.observe(record)
    present: dict[str, int] = {}
    for record in records:
        for key in record:
            present[key] = present.get(key, 0) + 1
    assert drift.from_key_counts(len(records), present, MAPPED) == counter.summary(len(records))


def test_no_drift_is_an_empty_summary_that_does_not_warn():
    assert drift.from_key_counts(5, dict.fromkeys(MAPPED, 5), MAPPED) == {"records": 5, "keys": {}, "warn": False}


@pytest.mark.parametrize(("fraction", "warns"), [(0.0, True), (0.19, True), (0.2, False), (0.5, False)])
def test_a_key_warns_above_the_threshold_share_of_records(monkeypatch, fraction, warns):
    monkeypatch.setattr(config, "DRIFT_WARN_FRACTION", fraction)
    present = {"artist": 10, "ts": 10, "userId": 10, "mood": 2}  # mood: 2 of 10 records
    assert drift.from_key_counts(10, present, MAPPED)["warn"] is warns


def test_report_logs_below_the_threshold_and_alerts_above_it(monkeypatch, caplog):
    sent = []
    monkeypatch.setattr("include.sparkify.alerts.send", lambda alert, context: sent.append(alert))
    quiet = {"table": "staging_events", "drift": {"records": 9, "keys": {"mood": {"kind": "unknown", "records": 1}}}}
    with caplog.at_level(logging.INFO):
        drift.report({**quiet, "drift": {**quiet["drift"], "warn": False}}, "r1", context={})
        assert sent == [] and "mood (unknown, 1 records)" in caplog.text
        drift.report({**quiet, "drift": {**quiet["drift"], "warn": True}}, "r1", context={})
    assert "Schema drift: staging_events" in caplog.text and "staging_drift where run_id = 'r1'" in caplog.text
    [alert] = sent
    assert alert.subject == "[Sparkify] schema drift in staging_events (run r1)"
    assert ("mood", "unknown in 1 records") in alert.lines
    drift.report({"table": "staging_songs", "drift": {}}, "r1", context={})  # nothing to say
    assert len(sent) == 1


def test_keys_are_compared_with_their_case():
    """A key renamed only in case upstream (year -> Year) is lost by COPY (its matching is
    case-sensitive): it is drift."""
    present = {"artist": 4, "ts": 4, "userId": 3, "userid": 1}
    assert drift.from_key_counts(4, present, MAPPED)["keys"] == {
        "userid": {"kind": "unknown", "records": 1},
        "userId": {"kind": "missing", "records": 1},
    }
