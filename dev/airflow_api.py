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

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True, attempts: int = 30):
        """One API call. On SQLite (the bare-machine metadata database) a write can fail with
        "database is locked" while the scheduler writes (HTTP 500 "Database error" or 503):
        that is transient, so such calls are tried again for a while. A GET that times out
        (a loaded machine) is tried again a few times."""
        data = json.dumps(body).encode() if body is not None else None
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
                locked = exc.code == 503 or (exc.code == 500 and "Database error" in detail)
                if not locked or attempt == attempts - 1:
                    raise RuntimeError(f"{method} {path} -> HTTP {exc.code}: {detail}") from None
                time.sleep(2)
            except (TimeoutError, ConnectionError, urllib.error.URLError) as exc:
                # A read that timed out on a busy machine is safe to repeat; a write is not.
                if method != "GET" or attempt >= 3:
                    raise RuntimeError(f"{method} {path}: {exc}") from exc
                time.sleep(5)
        raise AssertionError("unreachable")

    def token(self) -> str:
        if self._token is None:
            reply = self._request("POST", "/auth/token",
                                  {"username": self.username, "password": self.password}, auth=False)
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
    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get(f"/api/v2/dags/{dag_id}")
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DAG {dag_id} did not appear in Airflow within {timeout:.0f}s "
                                       "(see the import errors in the UI)") from None
                time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def runs(self, dag_id: str, **query) -> list[dict]:
        query.setdefault("limit", 1000)
        query.setdefault("order_by", "run_after")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", **query)["dag_runs"]

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> dict | None:
        """A manual run; without a logical date it has no data interval. A run with that
        logical date that already exists (e.g. created by a retried call) is kept: None."""
        try:
            return self.post(f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}})
        except RuntimeError as exc:
            if logical_date and "HTTP 409" in str(exc):
                return None
            raise

    def clear_run(self, dag_id: str, run_id: str) -> dict:
        run = urllib.parse.quote(run_id, safe="")
        return self.post(f"/api/v2/dags/{dag_id}/dagRuns/{run}/clear", {"dry_run": False})

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        run = urllib.parse.quote(run_id, safe="")
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run}/taskInstances", limit=1000)["task_instances"]

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, max_active_runs: int = 1) -> dict:
        return self.post("/api/v2/backfills", {
            "dag_id": dag_id,
            "from_date": from_date,
            "to_date": to_date,
            "run_backwards": False,
            "dag_run_conf": {},
            "reprocess_behavior": "failed",
            "max_active_runs": max_active_runs,
        })

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
