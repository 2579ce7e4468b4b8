"""What operators monitor (include/sparkify/monitoring.py) without a database: the rows a
check task writes to dq_history, the recording around a check's execution (with a stand-in
hook), and the metadata of a table's asset event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.providers.common.sql.operators.sql import SQLCheckResult

from include.sparkify import config
from include.sparkify.monitoring import DQ_COLUMNS, RecordedCheck, dq_rows, load_metadata, record_checks

TI = SimpleNamespace(
    dag_id="final_project",
    run_id="scheduled__2018-11-01T14:00:00+00:00",
    task_id="Run_data_quality_checks.column_checks",
    try_number=2,
)
HOURLY = SimpleNamespace(
    data_interval_start=datetime(2018, 11, 1, 13, tzinfo=UTC), data_interval_end=datetime(2018, 11, 1, 14, tzinfo=UTC)
)


def columns(row: tuple) -> dict:
    assert len(row) == len(DQ_COLUMNS)
    return dict(zip(DQ_COLUMNS, row))


def test_one_row_per_check_result():
    results = [
        SQLCheckResult(
            name="null_check",
            check_type="null_check",
            success=True,
            table='"songplays"',
            column="songplay_id",
            expected="0",
            actual="0",
        ),
        SQLCheckResult(
            name="unique_check", check_type="unique_check", success=False, column="songplay_id", expected="0", actual=3
        ),
    ]
    before = datetime.now(UTC).replace(tzinfo=None)
    rows = [columns(r) for r in dq_rows({"ti": TI, "dag_run": HOURLY}, results, None, default_table="songplays")]
    after = datetime.now(UTC).replace(tzinfo=None)
    for row in rows:
        assert before <= row.pop("checked_at") <= after  # naive UTC, like every warehouse timestamp
    common = {
        "dag_id": "final_project",
        "run_id": "scheduled__2018-11-01T14:00:00+00:00",
        "task_id": "Run_data_quality_checks.column_checks",
        "try_number": 2,
        "table_name": "songplays",  # the quoted name unquoted; the operator's table when a result has none
        "column_name": "songplay_id",
        "threshold": "0",
        "interval_start": datetime(2018, 11, 1, 13),
        "interval_end": datetime(2018, 11, 1, 14),
    }
    assert rows == [
        {**common, "check_name": "null_check", "check_type": "null_check", "observed_value": "0", "passed": True},
        {**common, "check_name": "unique_check", "check_type": "unique_check", "observed_value": "3", "passed": False},
    ]


def test_a_check_that_could_not_run_is_one_failed_row_with_the_error():
    full_load = SimpleNamespace(data_interval_start=None, data_interval_end=None)
    [row] = dq_rows({"ti": TI, "dag_run": full_load}, [], ConnectionError("warehouse down"), default_table="songplays")
    row = columns(row)
    assert (row["check_name"], row["check_type"], row["table_name"]) == ("column_checks", "error", "songplays")
    assert row["observed_value"] == "ConnectionError: warehouse down" and row["passed"] is False
    assert row["interval_start"] is None and row["interval_end"] is None
    [row] = dq_rows({"ti": TI}, [], None)
    assert columns(row)["observed_value"] == "no result" and columns(row)["table_name"] is None


def test_long_values_are_cut_and_zones_become_naive_utc():
    plus2 = timezone(timedelta(hours=2))
    dag_run = SimpleNamespace(
        data_interval_start=datetime(2018, 11, 1, 15, tzinfo=plus2), data_interval_end=datetime(2018, 11, 1, 16)
    )
    result = SQLCheckResult(name="c", check_type="t", success=False, actual="x" * 5000, expected="y" * 2000)
    row = columns(dq_rows({"ti": TI, "dag_run": dag_run}, [result], None)[0])
    assert row["observed_value"] == "x" * 4096 and row["threshold"] == "y" * 1024
    assert row["interval_start"] == datetime(2018, 11, 1, 13)  # 15:00+02:00
    assert row["interval_end"] == datetime(2018, 11, 1, 16)  # naive: taken as UTC already


def test_long_values_are_cut_in_bytes_as_redshift_counts_a_varchar():
    result = SQLCheckResult(name="c", check_type="t", success=False, actual="é" * 3000, expected="日" * 500)
    row = columns(dq_rows({"ti": TI}, [result], None)[0])
    # 3,000 two-byte characters are 6,000 bytes: 2,048 of them fill VARCHAR(4096); 341 three-byte ones VARCHAR(1024)
    assert row["observed_value"] == "é" * 2048 and row["threshold"] == "日" * 341


class StandInHook:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.inserted = []

    def insert_rows(self, table, rows, target_fields):
        if self.fail:
            raise ConnectionError("dq_history unreachable")
        self.inserted.append((table, rows, target_fields))


def test_record_checks_writes_the_rows_to_dq_history():
    hook = StandInHook()
    operator = SimpleNamespace(
        check_results=[SQLCheckResult(name="row_count_check", check_type="row_count", success=True, actual="12")],
        checked_table="users",
        get_db_hook=lambda: hook,
    )
    assert record_checks(operator, {"ti": TI, "dag_run": HOURLY}, None) == 1
    [(table, rows, fields)] = hook.inserted
    assert table == config.DQ_HISTORY_TABLE == "dq_history" and fields == DQ_COLUMNS
    assert columns(rows[0])["table_name"] == "users" and columns(rows[0])["observed_value"] == "12"


def test_outside_a_task_run_nothing_is_recorded():
    operator = SimpleNamespace(get_db_hook=lambda: pytest.fail("no hook outside a task run"))
    assert record_checks(operator, {}, None) == 0
    assert record_checks(operator, {"ti": None}, None) == 0


# ---------------------------------------------------------------- RecordedCheck around a check
class Check:
    """A stand-in check operator: its execute passes or raises, and leaves check_results."""

    def __init__(self, outcome: Exception | None, hook: StandInHook):
        self.outcome, self.hook, self.check_results = outcome, hook, []

    def get_db_hook(self):
        return self.hook

    def execute(self, context):
        self.check_results = [SQLCheckResult(name="c", check_type="t", success=self.outcome is None)]
        if self.outcome is not None:
            raise self.outcome
        return "checked"


class Recorded(RecordedCheck, Check):
    checked_table = "time"


def test_a_passing_check_is_recorded_and_returns():
    hook = StandInHook()
    assert Recorded(None, hook).execute({"ti": TI}) == "checked"
    assert columns(hook.inserted[0][1][0])["passed"] is True


def test_a_failing_check_is_recorded_then_fails():
    hook = StandInHook()
    with pytest.raises(ValueError, match="3 duplicates"):
        Recorded(ValueError("3 duplicates"), hook).execute({"ti": TI})
    assert columns(hook.inserted[0][1][0])["passed"] is False


def test_a_passing_check_whose_result_cannot_be_recorded_fails():
    with pytest.raises(ConnectionError, match="dq_history unreachable"):
        Recorded(None, StandInHook(fail=True)).execute({"ti": TI})


def test_a_failing_check_keeps_its_own_error_when_recording_fails_too():
    with pytest.raises(ValueError, match="3 duplicates"):
        Recorded(ValueError("3 duplicates"), StandInHook(fail=True)).execute({"ti": TI})


# ---------------------------------------------------------------- asset events
def test_the_asset_event_of_an_hourly_load():
    staged = [
        {
            "table": "staging_events",
            "objects": 1,
            "rows": 40,
            "rejected": 2,
            "skipped_unchanged": False,
            "sources": ["a", "b"],
        },
        {"table": "staging_songs", "objects": 0, "rows": 0, "skipped_unchanged": True, "sources": None},
    ]
    assert load_metadata("songplays", "upsert", 35, 4, HOURLY, staged) == {
        "table": "songplays",
        "mode": "upsert",
        "rows_inserted": 35,
        "rows_deleted": 4,
        "load": "interval",
        "data_interval_start": "2018-11-01T13:00:00+00:00",
        "data_interval_end": "2018-11-01T14:00:00+00:00",
        "sources": ["a", "b"],
        "staged": {
            "staging_events": {"objects": 1, "rows": 40, "rejected": 2, "skipped_unchanged": False, "drift": None},
            "staging_songs": {"objects": 0, "rows": 0, "rejected": None, "skipped_unchanged": True, "drift": None},
        },
    }


def test_the_asset_event_of_a_full_load_without_staging():
    metadata = load_metadata("daily_listening", "truncate-insert", 10, 8, None, [])
    assert metadata["load"] == "full" and metadata["data_interval_start"] is None
    assert metadata["sources"] == [] and metadata["staged"] == {}
