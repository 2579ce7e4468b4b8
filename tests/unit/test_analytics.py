"""The downstream analytics (include/sparkify/analytics.py) without services: the rebuild's
statements, which upstream runs triggered a run, and the wait for their quality checks,
with a stand-in task instance answering the task states."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.sparkify import config
from include.sparkify.analytics import build_table, quality_gate_passed, upstream_runs
from include.sparkify.loads import LoadMode


def event(dag_id, run_id):
    return SimpleNamespace(source_dag_id=dag_id, source_run_id=run_id)


def test_the_rebuild_is_a_locked_delete_then_insert_of_the_analytics_select():
    task = build_table("Build_daily_listening", "daily_listening")
    assert task.sql == [
        'LOCK TABLE "daily_listening"',
        'DELETE FROM "daily_listening"',
        "INSERT INTO \"daily_listening\"\n{% include 'analytics/daily_listening.sql' %}",
    ]
    assert task.mode is LoadMode.TRUNCATE_INSERT and task.staged_from == ()
    assert task.outlets == [config.table_asset("daily_listening")]
    assert (config.SQL_DIR / "analytics" / "daily_listening.sql").is_file()


def test_upstream_runs_group_the_triggering_events_by_dag():
    events = {
        "sparkify_songplays": [event("final_project", "r1"), event("final_project", "r2")],
        "sparkify_users": [event("final_project", "r2"), event("other_dag", "x"), event(None, None)],
        "manual": [SimpleNamespace()],  # an event posted through the API has no source run
    }
    assert upstream_runs(events) == {"final_project": {"r1", "r2"}, "other_dag": {"x"}}
    assert upstream_runs(None) == {} and upstream_runs({}) == {}


class StandInTI:
    """Answers get_task_states like the task SDK: {run_id: {task_id: state}}."""

    def __init__(self, states: dict[str, str | None]):
        self.states = states
        self.asked = []

    def get_task_states(self, dag_id, task_ids, run_ids):
        self.asked.append((dag_id, task_ids, run_ids))
        return {r: {task_ids[0]: self.states.get(r)} for r in run_ids if r in self.states}


def triggered_by(*run_ids):
    return {"sparkify_songplays": [event("final_project", r) for r in run_ids]}


def test_a_run_not_triggered_by_final_project_waits_for_nothing():
    ti = StandInTI({})
    assert quality_gate_passed(ti, {}) is True
    assert quality_gate_passed(ti, {"x": [event("other_dag", "r")]}) is True
    assert ti.asked == []


def test_it_asks_for_final_project_s_stop_execution_of_each_triggering_run():
    ti = StandInTI({"r1": "success", "r2": "success"})
    assert quality_gate_passed(ti, triggered_by("r2", "r1")) is True
    assert ti.asked == [("final_project", ["Stop_execution"], ["r1", "r2"])]


@pytest.mark.parametrize("pending", [None, "running", "queued", "up_for_retry", "scheduled"])
def test_it_waits_while_a_gate_has_not_finished(pending, capsys):
    ti = StandInTI({"r1": "success", "r2": pending})
    assert quality_gate_passed(ti, triggered_by("r1", "r2")) is False
    assert f"r2 ({pending or 'not started'})" in capsys.readouterr().out


@pytest.mark.parametrize("state", ["failed", "upstream_failed", "skipped", "removed"])
def test_a_gate_that_will_never_succeed_fails_the_wait(state):
    ti = StandInTI({"r1": "success", "r2": state})
    with pytest.raises(
        AirflowFailException, match=f"final_project run r2 did not pass its data-quality checks .*{state}"
    ):
        quality_gate_passed(ti, triggered_by("r1", "r2"))
