"""A small client for the Airflow 3 REST API (v2), as `make run` and the tests use it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = None
        self._retry_delays: dict[tuple[str, str], object] = {}

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True):
        """One API call; an HTTP error raises RuntimeError with the status and the server's detail.
        A GET that times out or cannot connect (a loaded machine) is tried again a few times;
        a write is never repeated."""
        data = json.dumps(body).encode() if body is not None else None
        attempts = 4 if method == "GET" else 1
        for attempt in range(attempts):
            request = urllib.request.Request(f"{self.base_url}{path}", data=data, method=method)
            request.add_header("Content-Type", "application/json")
            if auth:
                request.add_header("Authorization", f"Bearer {self.token()}")
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    payload = response.read()
                return json.loads(payload) if payload else None
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")
                raise RuntimeError(f"{method} {path} -> HTTP {exc.code}: {detail}") from None
            except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
                if attempt == attempts - 1:
                    raise RuntimeError(f"{method} {path}: {exc}") from exc
                time.sleep(5)
        raise AssertionError("unreachable")

    def token(self) -> str:
        if self._token is None:
            reply = self._request(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            self._token = reply["access_token"]
        return self._token

    def get(self, path: str, **query):
        qs = f"?{urllib.parse.urlencode(query, doseq=True)}" if query else ""
        return self._request("GET", f"{path}{qs}")

    def post(self, path: str, body: dict):
        return self._request("POST", path, body)

    def patch(self, path: str, body: dict):
        return self._request("PATCH", path, body)

    # ------------------------------------------------------------------ helpers
    def asset_events(self, **query) -> list[dict]:
        """Every asset event matching ``query``, page by page (a full load emits a songplays
        event per hour it covers: more than one page).

        Asked only once no run of any DAG is queued: Airflow 3.3.2 answers HTTP 500 when an
        event it returns has created a run that has not started yet (that run's ``start_date``
        is NULL and the response model requires one; apache/airflow#71360, fixed upstream by
        apache/airflow#71379 after 3.3.2). A consumer's run is queued for a moment after the
        event that created it."""
        self.wait_until_no_run_is_queued()
        events: list[dict] = []
        while True:
            page = self.get("/api/v2/assets/events", **query, limit=100, offset=len(events))
            events += page["asset_events"]
            if not page["asset_events"] or len(events) >= page["total_entries"]:
                return events

    def upstream_asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        """The asset events a run consumed (the same HTTP 500 as asset_events guarded against)."""
        self.wait_until_no_run_is_queued()
        run = urllib.parse.quote(run_id, safe="")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/upstreamAssetEvents")["asset_events"]

    def wait_until_no_run_is_queued(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while queued := self.get("/api/v2/dags/~/dagRuns", state=["queued"], limit=100)["dag_runs"]:
            if time.monotonic() > deadline:
                names = ", ".join(f"{r['dag_id']} {r['dag_run_id']}" for r in queued)
                raise TimeoutError(f"runs still queued after {timeout:.0f}s: {names}")
            time.sleep(1)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get(f"/api/v2/dags/{dag_id}")
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"DAG {dag_id} did not appear in Airflow within {timeout:.0f}s "
                        "(see the import errors in the UI)"
                    ) from None
                time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def runs(self, dag_id: str, **query) -> list[dict]:
        query.setdefault("limit", 1000)
        query.setdefault("order_by", "run_after")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", **query)["dag_runs"]

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> dict:
        """A manual run; without a logical date it has no data interval."""
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}})

    def clear_run(self, dag_id: str, run_id: str) -> dict:
        run = urllib.parse.quote(run_id, safe="")
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns/{run}/clear", {"dry_run": False})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        run = urllib.parse.quote(run_id, safe="")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances", limit=1000)["task_instances"]

    def every_runs_task_instances(self, dag_id: str, **filters) -> list[dict]:
        """The task instances of every run of dag_id that match ``filters`` (one request)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances"
        return self.get(path, **filters, limit=1000)["task_instances"]

    def running_task_instances(self, dag_id: str) -> list[dict]:
        return self.every_runs_task_instances(dag_id, state=["running"])

    def failed_or_retried_task_instances(self, dag_id: str) -> list[dict]:
        """Task instances of every run of dag_id that failed, wait for a retry, or are on a try
        after their first (whatever their state now). Two filtered requests: the API's
        filters combine with AND, and listing every task instance would grow with the runs."""
        failed = self.every_runs_task_instances(dag_id, state=["failed", "up_for_retry"])
        retried = self.every_runs_task_instances(dag_id, try_number=list(range(2, 65)))
        unique = {(ti["dag_run_id"], ti["task_id"], ti.get("map_index", -1)): ti for ti in retried + failed}
        return list(unique.values())

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict]:
        """Every try of one task instance: the recorded history plus the current try."""
        run, task = urllib.parse.quote(run_id, safe=""), urllib.parse.quote(task_id, safe="")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances/{task}/tries")["task_instances"]

    def retry_delay(self, dag_id: str, task_id: str):
        """The task's retry_delay (a timedelta), or None when the API does not say."""
        from datetime import timedelta

        key = (dag_id, task_id)
        if key not in self._retry_delays:
            delay = self.get(f"/api/v2/dags/{dag_id}/tasks/{urllib.parse.quote(task_id, safe='')}").get("retry_delay")
            if isinstance(delay, dict):
                self._retry_delays[key] = timedelta(
                    days=delay.get("days", 0),
                    seconds=delay.get("seconds", 0),
                    microseconds=delay.get("microseconds", 0),
                )
            else:
                self._retry_delays[key] = None
        return self._retry_delays[key]

    def create_backfill(
        self, dag_id: str, from_date: str, to_date: str, max_active_runs: int = 1, reprocess_behavior: str = "failed"
    ) -> dict:
        """A backfill of the runs whose logical dates lie in [from_date, to_date] (both included)."""
        return self.post(
            "/api/v2/backfills",
            {
                "dag_id": dag_id,
                "from_date": from_date,
                "to_date": to_date,
                "run_backwards": False,
                "dag_run_conf": {},
                "reprocess_behavior": reprocess_behavior,
                "max_active_runs": max_active_runs,
            },
        )

    def backfills(self, dag_id: str) -> list[dict]:
        return self.get("/api/v2/backfills", dag_id=dag_id, limit=100)["backfills"]

    def backfill(self, backfill_id: int) -> dict:
        return self.get(f"/api/v2/backfills/{backfill_id}")

    def wait_for_run(self, dag_id: str, predicate, timeout: float, progress=None, what: str = "a run") -> dict:
        """Wait until a run of dag_id satisfies predicate and is finished; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in reversed(self.runs(dag_id)):
                if predicate(run) and run["state"] in ("success", "failed"):
                    return run
            if progress:
                progress()
            time.sleep(3)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} of {dag_id}")
