"""`make run` (dev/run.py) says what it is waiting for while it waits: a heartbeat during
steps that only wait for a process, and the state of the run it follows."""

from __future__ import annotations

import re
import time

from dev.run import RunProgress, still


class FakeAPI:
    """The two AirflowAPI calls RunProgress makes, over a list of runs that the test changes."""

    def __init__(self) -> None:
        self.dag_runs: list[dict] = []
        self.tis: dict[str, list[dict]] = {}

    def runs(self, dag_id: str) -> list[dict]:
        return self.dag_runs

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.tis[run_id]


def said(capsys) -> list[str]:
    return [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in capsys.readouterr().out.splitlines()]


def test_still_says_it_is_waiting_until_the_step_ends(capsys):
    with still("waiting for the thing", every=0.05):
        time.sleep(0.28)
    lines = said(capsys)
    assert len(lines) >= 3 and all(re.fullmatch(r"  still waiting for the thing \(\d+s\)", l) for l in lines), lines
    time.sleep(0.15)
    assert said(capsys) == []  # silent once the step is over


def test_run_progress_follows_the_run(capsys):
    api = FakeAPI()
    progress = RunProgress(api, "final_project", "full load")
    progress()
    api.dag_runs = [{"dag_run_id": "old", "state": "success"}, {"dag_run_id": "r1", "state": "queued"}]
    progress()
    api.dag_runs[1]["state"] = "running"
    api.tis["r1"] = [{"task_id": "Begin_execution", "state": "success"},
                     {"task_id": "Stage_events", "state": "running"},
                     {"task_id": "Stage_songs", "state": "running"},
                     {"task_id": "Stop_execution", "state": None}]
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
    api.dag_runs = [{"dag_run_id": "h1", "state": "success", "hour": True},
                    {"dag_run_id": "h2", "state": "running", "hour": True},
                    {"dag_run_id": "other", "state": "running", "hour": False}]
    api.tis["h2"] = [{"task_id": "Load_songplays_fact_table", "state": "running"}]
    progress = RunProgress(api, "final_project", "current hour", runs=lambda rs: [r for r in rs if r["hour"]])
    progress(prefix="hourly runs: 1 running, 1 success; ")
    assert [re.sub(r" \(\d+s\)$", "", line) for line in said(capsys)] == [
        "  hourly runs: 1 running, 1 success; current hour running: 0/1 tasks done; now: Load_songplays_fact_table"]
