"""dev/airflow_api.py: asset events are asked for only once no run is queued (Airflow 3.3.2
answers HTTP 500 while an event's created run has not started, apache/airflow#71360)."""

from __future__ import annotations

import pytest

from dev import airflow_api
from dev.airflow_api import AirflowAPI


class ScriptedAPI(AirflowAPI):
    """The client over a scripted server: the queued runs each poll sees, then the events."""

    def __init__(self, queued_polls: list[list[str]], events: list[dict]) -> None:
        super().__init__("http://airflow.invalid", "admin", "secret")
        self.queued_polls = queued_polls
        self.events = events
        self.calls: list[str] = []

    def get(self, path: str, **query):
        self.calls.append(path)
        if path == "/api/v2/dags/~/dagRuns":
            assert query["state"] == ["queued"]
            queued = self.queued_polls.pop(0) if self.queued_polls else []
            return {"dag_runs": [{"dag_id": "sparkify_analytics", "dag_run_id": r} for r in queued]}
        if path == "/api/v2/assets/events":
            page = self.events[query["offset"] : query["offset"] + query["limit"]]
            return {"asset_events": page, "total_entries": len(self.events)}
        if path.endswith("/upstreamAssetEvents"):
            return {"asset_events": self.events}
        raise AssertionError(path)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda _: None)


def test_asset_events_waits_for_the_queued_runs_to_start_then_reads_every_page():
    events = [{"id": i} for i in range(250)]
    api = ScriptedAPI([["a"], ["a", "b"], ["b"], []], events)
    assert api.asset_events(source_dag_id="final_project") == events
    runs = "/api/v2/dags/~/dagRuns"
    # four polls (the last finds none queued), then three pages of 100
    assert api.calls == [runs] * 4 + ["/api/v2/assets/events"] * 3


def test_upstream_asset_events_waits_too_and_quotes_the_run_id():
    api = ScriptedAPI([["a"], []], [{"id": 1}])
    assert api.upstream_asset_events("sparkify_analytics", "asset_triggered__2018-11-01T00:00:00+00:00") == [{"id": 1}]
    assert api.calls[-1] == (
        "/api/v2/dags/sparkify_analytics/dagRuns/asset_triggered__2018-11-01T00%3A00%3A00%2B00%3A00/upstreamAssetEvents"
    )
    assert api.calls[:-1] == ["/api/v2/dags/~/dagRuns"] * 2


def test_a_run_that_stays_queued_ends_the_wait_with_its_name(monkeypatch):
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(airflow_api.time, "monotonic", lambda: next(clock))
    api = ScriptedAPI([["stuck"]] * 100, [])
    with pytest.raises(TimeoutError, match="sparkify_analytics stuck"):
        api.asset_events(source_dag_id="final_project")
    assert "/api/v2/assets/events" not in api.calls
