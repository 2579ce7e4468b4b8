"""`make run` (dev/run.py) says what it is waiting for while it waits: a heartbeat during
steps that only wait for a process, and the state of the run it follows."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta

from dev import run as dev_run
from dev.run import (
    BackfillProgress,
    RunProgress,
    TaskFailures,
    describe_failure,
    first_error_line,
    rollup_due,
    still,
    wait_for_rollups,
    window_hours,
)


class FakeAPI:
    """The two AirflowAPI calls RunProgress makes, over a list of runs that the test changes."""

    def __init__(self) -> None:
        self.dag_runs: list[dict] = []
        self.tis: dict[str, list[dict]] = {}

    def runs(self, dag_id: str) -> list[dict]:
        return self.dag_runs

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.tis[run_id]

    def running_task_instances(self, dag_id: str) -> list[dict]:
        return [{**ti, "dag_run_id": run} for run, tis in self.tis.items() for ti in tis if ti["state"] == "running"]


def said(capsys) -> list[str]:
    return [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in capsys.readouterr().out.splitlines()]


def test_still_says_it_is_waiting_until_the_step_ends(capsys):
    lines: list[str] = []
    with still("waiting for the thing", every=0.01):
        deadline = time.monotonic() + 60
        while len(lines) < 3:  # a condition, not a clock: however slow the machine, 3 ticks come
            assert time.monotonic() < deadline, lines
            lines += said(capsys)
            time.sleep(0.01)
    lines += said(capsys)
    assert all(re.fullmatch(r"  still waiting for the thing \(\d+s\)", line) for line in lines), lines
    # The ticker thread has ended with the block (still() joins it), so nothing more is said.
    assert not any(t.name == "still waiting for the thing" for t in threading.enumerate())
    assert said(capsys) == []


def test_run_progress_follows_the_run(capsys):
    api = FakeAPI()
    progress = RunProgress(api, "final_project", "full load")
    progress()
    api.dag_runs = [{"dag_run_id": "old", "state": "success"}, {"dag_run_id": "r1", "state": "queued"}]
    progress()
    api.dag_runs[1]["state"] = "running"
    api.tis["r1"] = [
        {"task_id": "Begin_execution", "state": "success"},
        {"task_id": "Stage_events", "state": "running"},
        {"task_id": "Stage_songs", "state": "running"},
        {"task_id": "Stop_execution", "state": None},
    ]
    progress()
    progress()  # nothing changed: not repeated at once ...
    progress.at -= 31
    progress()  # ... but after 30 s
    lines = [re.sub(r" \(\d+s\)$", "", line) for line in said(capsys)]
    assert lines == [
        "  full load: waiting for the scheduler to create the run",
        "  full load: queued",
        "  full load running: 1/4 tasks done; now: Stage_events, Stage_songs",
        "  full load running: 1/4 tasks done; now: Stage_events, Stage_songs",
    ]


def test_run_progress_of_the_hourly_runs_names_the_window_and_the_running_hour(capsys):
    api = FakeAPI()
    api.dag_runs = [
        {"dag_run_id": "h1", "state": "success", "hour": True},
        {"dag_run_id": "h2", "state": "running", "hour": True},
        {"dag_run_id": "other", "state": "running", "hour": False},
    ]
    api.tis["h2"] = [{"task_id": "Load_songplays_fact_table", "state": "running"}]
    progress = RunProgress(api, "final_project", "current hour", runs=lambda rs: [r for r in rs if r["hour"]])
    progress(prefix="hourly runs: 1 running, 1 success; ")
    assert [re.sub(r" \(\d+s\)$", "", line) for line in said(capsys)] == [
        "  hourly runs: 1 running, 1 success; current hour running: 0/1 tasks done; now: Load_songplays_fact_table"
    ]


# ------------------------------------------------------------------ failures and the backfill
def task_log(tmp_path, ti: dict, events: list[dict]):
    """A task log as Airflow 3 writes it: one JSON event a line, under dag_id=/run_id=/task_id=."""
    folder = tmp_path / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" / f"task_id={ti['task_id']}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"attempt={ti['try_number']}.log"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return path


def failed_ti(state: str, try_number: int, end_date: str = "2026-01-01T10:00:00Z") -> dict:
    return {
        "dag_id": "final_project",
        "dag_run_id": "asset_triggered__x",
        "task_id": "Stage_events",
        "state": state,
        "try_number": try_number,
        "max_tries": 2,
        "end_date": end_date,
    }


RAISED = {
    "level": "error",
    "event": "Task failed with exception",
    "error_detail": [
        {"exc_type": "StagingError", "exc_value": "bad jsonpaths\nsecond line", "is_cause": False},
        {"exc_type": "KeyError", "exc_value": "'jsonpaths'", "is_cause": True},
    ],
}


def test_first_error_line_is_the_raised_exception_not_its_cause(tmp_path):
    ti = failed_ti("up_for_retry", 1)
    log = task_log(tmp_path, ti, [{"level": "info", "event": "Running"}, RAISED, {"level": "info", "event": "x"}])
    assert first_error_line(log) == "StagingError: bad jsonpaths"
    plain = task_log(tmp_path, failed_ti("failed", 2), [{"level": "error", "event": "Process exited\nmore"}])
    assert first_error_line(plain) == "Process exited"
    assert first_error_line(None) == "(no log file yet)"


def test_a_retry_names_the_attempt_the_error_the_due_time_and_the_log(tmp_path):
    ti = failed_ti("up_for_retry", 1)
    log = task_log(tmp_path, ti, [RAISED])
    message = describe_failure(ti, tmp_path, retry_delay=timedelta(seconds=300))
    assert message == (
        "  ! Stage_events of asset_triggered__x failed (attempt 1 of 3), up for retry; "
        f"retry due at 10:05:00 UTC: StagingError: bad jsonpaths\n    log: {log}"
    )
    final = failed_ti("failed", 3)
    task_log(tmp_path, final, [RAISED])
    assert "failed for good (attempt 3 of 3): StagingError: bad jsonpaths" in describe_failure(final, tmp_path, None)


class FailingAPI:
    """One task instance: `tries` is its history plus its current try, as Airflow's API
    lists them; the latest try is what the task-instance list shows."""

    def __init__(self, tries: list[dict]) -> None:
        self.tries = tries
        self.history_reads = 0

    def failed_or_retried_task_instances(self, dag_id: str) -> list[dict]:
        latest = self.tries[-1]
        return [latest] if latest["state"] in ("failed", "up_for_retry") or latest["try_number"] > 1 else []

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """As Airflow's history keeps them: an attempt up for retry is recorded as failed."""
        self.history_reads += 1
        return [{**t, "state": "failed"} if t["state"] == "up_for_retry" else t for t in self.tries]

    def retry_delay(self, dag_id: str, task_id: str):
        return timedelta(seconds=5)


def test_each_failed_attempt_is_said_once_and_ends_in_the_final_message(tmp_path, capsys):
    api = FailingAPI([failed_ti("up_for_retry", 1)])
    task_log(tmp_path, api.tries[0], [RAISED])
    failures = TaskFailures(api, tmp_path)
    failures.say_new("final_project")
    failures.say_new("final_project")  # the same attempt: not said again, its history not read again
    assert api.history_reads == 1
    api.tries = [failed_ti("up_for_retry", 1), failed_ti("up_for_retry", 2), failed_ti("failed", 3)]
    for ti in api.tries[1:]:
        task_log(tmp_path, ti, [RAISED])
    message = failures.final_message("final_project", {"dag_run_id": "asset_triggered__x"})
    lines = [line for line in said(capsys) if line.startswith("  !")]
    assert [re.search(r"attempt (\d)", line)[1] for line in lines] == ["1", "2", "3"], lines
    assert "up for retry" in lines[1] and "failed for good" in lines[2]
    assert message.startswith("final_project run asset_triggered__x failed: make run stops here.\n")
    assert "failed for good (attempt 3 of 3): StagingError: bad jsonpaths" in message


def test_an_attempt_that_failed_between_two_polls_is_said_from_the_history(tmp_path, capsys):
    """Polled while attempt 3 runs: attempts 1 and 2 failed since the last poll; both are said,
    in order, though the task instance's state is running."""
    history = [failed_ti("up_for_retry", 1), failed_ti("up_for_retry", 2)]
    api = FailingAPI([*history, {**failed_ti("running", 3), "end_date": None}])
    for ti in history:
        task_log(tmp_path, ti, [RAISED])
    TaskFailures(api, tmp_path).say_new("final_project")
    lines = [line for line in said(capsys) if line.startswith("  !")]
    assert [re.search(r"\(attempt (\d) of 3\), up for retry", line)[1] for line in lines] == ["1", "2"], lines


def test_a_first_attempt_still_running_reads_no_history(tmp_path, capsys):
    api = FailingAPI([{**failed_ti("running", 1), "end_date": None}])
    TaskFailures(api, tmp_path).say_new("final_project")
    assert api.history_reads == 0 and not [line for line in said(capsys) if line.startswith("  !")]


def test_the_window_is_the_start_of_each_hour_in_it():
    hours = window_hours("2018-11-01T00:00:00+00:00", "2018-11-01T03:00:00+00:00")
    assert [h.isoformat() for h in hours] == [
        "2018-11-01T00:00:00+00:00",
        "2018-11-01T01:00:00+00:00",
        "2018-11-01T02:00:00+00:00",
    ]
    assert window_hours("2018-11-01T00:00:00+00:00", "2018-11-01T00:00:00+00:00") == []


def test_backfill_progress_names_the_states_and_each_running_hour(capsys):
    api = FakeAPI()
    runs = [
        {"dag_run_id": "b1", "state": "success", "data_interval_start": "2018-11-01T01:00:00Z"},
        {"dag_run_id": "b2", "state": "running", "data_interval_start": "2018-11-01T02:00:00Z"},
        {"dag_run_id": "b3", "state": "queued", "data_interval_start": "2018-11-01T03:00:00Z"},
    ]
    api.tis["b2"] = [{"task_id": "Stage_events", "state": "running"}, {"task_id": "Stage_songs", "state": "running"}]
    BackfillProgress(api, 7, lambda rs: rs)(runs)
    assert [re.sub(r" \(\d+s\)$", "", line) for line in said(capsys)] == [
        "  backfill 7: 1 queued, 1 running, 1 success; now: 02:00 Stage_events+Stage_songs"
    ]


def hourly_run(day: str, hour: int, state: str = "success", start: str = "2026-11-29T16:00:00+00:00") -> dict:
    return {"data_interval_start": f"{day}T{hour:02d}:00:00+00:00", "state": state, "start_date": start}


def test_a_day_is_due_a_rollup_when_its_24_runs_succeeded_after_the_last_one_started():
    runs = [hourly_run("2018-11-01", h, start=f"2026-11-29T16:{h:02d}:00+00:00") for h in range(24)]
    runs += [hourly_run("2018-11-02", h) for h in range(3)]  # part of a day: no rollup
    due = rollup_due(runs)
    assert list(due) == ["2018-11-01"] and due["2018-11-01"].isoformat() == "2026-11-29T16:23:00+00:00"
    runs[5]["state"] = "failed"  # a day with a failed hour is not published whole: no rollup fires
    assert rollup_due(runs) == {}


class Clock:
    """time.monotonic and time.sleep for dev.run: sleeping advances the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class RollupAPI:
    """Rollup runs per poll (a poll reads sparkify_analytics, then the monthly rollup, which
    ends it); after the last step, the last step again."""

    def __init__(self, steps: list[dict[str, list[dict]]]) -> None:
        self.steps, self.polls = steps, 0

    def runs(self, dag_id: str) -> list[dict]:
        step = self.steps[min(self.polls, len(self.steps) - 1)]
        if dag_id == "sparkify_monthly_listening":
            self.polls += 1
        return step.get(dag_id, [])


def rollup_run(key: str, state: str, queued_at: str) -> dict:
    return {"partition_key": key, "state": state, "queued_at": queued_at}


def test_the_rollup_wait_ends_when_the_windows_day_and_what_it_fired_have_finished(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(dev_run, "time", clock)
    old = rollup_run("2018-11-01", "success", "2026-11-29T16:10:00+00:00")  # from the full load, before the window
    new = "2026-11-29T16:30:00+00:00"
    api = RollupAPI(
        [
            {"sparkify_analytics": [old]},  # the window's rollup not created yet: waiting
            {"sparkify_analytics": [old]},
            {"sparkify_analytics": [old, rollup_run("2018-11-01", "running", new)]},
            {
                "sparkify_analytics": [old, rollup_run("2018-11-01", "success", new)],
                "sparkify_monthly_listening": [rollup_run("2018-11", "queued", new)],  # the day completed the month
            },
            {
                "sparkify_analytics": [old, rollup_run("2018-11-01", "success", new)],
                "sparkify_monthly_listening": [rollup_run("2018-11", "success", new)],
            },
        ]
    )
    wait_for_rollups(api, {"2018-11-01": datetime.fromisoformat("2026-11-29T16:29:00+00:00")})
    assert api.polls >= 5 + 3  # every step seen, then 3 s without a rollup pending
    assert 7 <= clock.now < 10  # the last step seen at 4 s, then 3 s quiet
    assert said(capsys) == ["  rollups running: 2018-11-01", "  rollups running: 2018-11"]


def test_the_rollup_wait_of_a_window_without_a_complete_day_ends_when_nothing_is_pending(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(dev_run, "time", clock)
    wait_for_rollups(RollupAPI([{}]), {})
    assert 3 <= clock.now < 5 and said(capsys) == []


def test_a_rollup_that_never_comes_ends_the_wait_at_its_timeout(monkeypatch, capsys):
    clock = Clock()
    monkeypatch.setattr(dev_run, "time", clock)
    wait_for_rollups(RollupAPI([{}]), {"2018-11-01": datetime.fromisoformat("2026-11-29T16:29:00+00:00")}, timeout=30)
    assert 30 <= clock.now < 32
    assert said(capsys) == [
        "  rollups running: 2018-11-01",
        "  rollups still running after 30 s: the report shows them as they are",
    ]
