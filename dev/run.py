"""`make run`: bring up the local stack, load data, run the pipeline, print a report.

Steps: start the warehouse (embedded PostgreSQL) and S3 (moto); upload the data set
(the project's generated sample, or SPARKIFY_DATA_DIR); start Airflow standalone;
unpause both DAGs; let create_tables run and wait for the final_project run its asset
triggers (the full load); run the hourly runs of SPARKIFY_START..SPARKIFY_END;
print the report. Everything stays up; `make stop` ends it. Running it again reuses
what is running and what is loaded.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dev.airflow_api import AirflowAPI
from dev.seed import upload_tree
from dev.stack import REPO, Stack


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextlib.contextmanager
def still(what: str, every: float = 20):
    """Say "still <what> (Ns)" every `every` seconds until the block ends: a step that waits
    for a process (Airflow starting, the DAGs being parsed) is never silent for long."""
    done = threading.Event()
    t0 = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            say(f"  still {what} ({time.monotonic() - t0:.0f}s)")

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()


class RunProgress:
    """What the newest unfinished run of a DAG is doing (state, tasks done, tasks running),
    said when that changes or every 30 s, as a `progress` callback of AirflowAPI.wait_for_run."""

    def __init__(self, api: AirflowAPI, dag_id: str, label: str, runs=None) -> None:
        self.api, self.dag_id, self.label = api, dag_id, label
        self.runs = runs  # optional: which runs to follow (a callable filtering api.runs)
        self.t0 = time.monotonic()
        self.line, self.at = "", 0.0

    def describe(self) -> str:
        runs = self.api.runs(self.dag_id)
        if self.runs is not None:
            runs = self.runs(runs)
        pending = [r for r in runs if r["state"] not in ("success", "failed")]
        if not pending:
            return f"{self.label}: waiting for the scheduler to create the run"
        run = next((r for r in pending if r["state"] == "running"), pending[0])
        if run["state"] != "running":
            return f"{self.label}: {run['state']}"
        tis = self.api.task_instances(self.dag_id, run["dag_run_id"])
        done = sum(ti["state"] == "success" for ti in tis)
        active = ", ".join(sorted(ti["task_id"] for ti in tis if ti["state"] == "running"))
        return f"{self.label} running: {done}/{len(tis)} tasks done; now: {active or '-'}"

    def __call__(self, prefix: str = "") -> None:
        line = f"  {prefix}{self.describe()}"
        if line != self.line or time.monotonic() - self.at > 30:
            say(f"{line} ({time.monotonic() - self.t0:.0f}s)")
            self.line, self.at = line, time.monotonic()


def parse_when(value: str) -> str:
    """A date or ISO datetime -> ISO datetime in UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def data_dir(stack: Stack) -> Path:
    configured = os.environ.get("SPARKIFY_DATA_DIR")
    if configured:
        path = Path(configured).expanduser().resolve()
        if not (path / "log_data").is_dir() or not (path / "song_data").is_dir():
            raise SystemExit(f"SPARKIFY_DATA_DIR={configured}: expected log_data/ and song_data/ in it")
        return path
    from include.sparkify.datagen import GeneratorSpec, generate

    sample = stack.state_dir / "sample"
    if not (sample / "log_json_path.json").exists():
        say(f"Generating the sample data set in {sample} ...")
        summary = generate(sample, GeneratorSpec())
        say(f"  {summary['events']} events in {summary['log_files']} log files, {summary['song_files']} songs")
    return sample


def schema_version() -> str:
    """A digest of include/sql/ddl/: CREATE TABLE IF NOT EXISTS cannot change a table."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((REPO / "include" / "sql" / "ddl").glob("*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def reset_if_source_changed(stack: Stack, source: Path) -> None:
    """The local warehouse keeps its tables between runs. When make run is pointed at another
    data set, empty them so the report shows that data set only; when the DDL changed since
    they were created, drop them so create_tables builds them anew. Either way the bucket is
    emptied too, so the upload that follows triggers create_tables and a new full load."""
    marker = stack.state_dir / "data_source"
    schema_marker = stack.state_dir / "schema_version"
    previous = marker.read_text().strip() if marker.exists() else None
    previous_schema = schema_marker.read_text().strip() if schema_marker.exists() else None
    source_changed = previous is not None and previous != str(source)
    schema_changed = previous is not None and previous_schema != schema_version()
    if source_changed or schema_changed:
        import psycopg

        if schema_changed:
            say("The table definitions (include/sql/ddl) changed: dropping the local warehouse tables ...")
        else:
            say(f"The data set changed (was {previous}): emptying the local warehouse tables ...")
        with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
            if tables:
                verb = "DROP TABLE" if schema_changed else "TRUNCATE"
                conn.execute(f"{verb} " + ", ".join(f'"{t}"' for t in tables))
        stack.stop_s3()  # and the bucket: moto keeps objects in memory
        stack.start_s3()
    marker.write_text(str(source))
    schema_marker.write_text(schema_version())


def run_states(runs: list[dict]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run["state"]] = counts.get(run["state"], 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none yet"


def main() -> int:
    stack = Stack.from_env()
    start = parse_when(os.environ.get("SPARKIFY_START", "2018-11-01"))
    end = parse_when(os.environ.get("SPARKIFY_END", "2018-11-02"))

    say("Starting the warehouse (embedded PostgreSQL) and S3 (moto server) ...")
    stack.start_postgres()
    stack.start_s3()
    source = data_dir(stack)
    reset_if_source_changed(stack, source)
    say(f"Uploading {source} to s3://{stack.bucket}/ (objects already there are kept) ...")
    uploaded = upload_tree(stack.s3_client(), stack.bucket, source, progress=say)
    say(f"  {uploaded['uploaded']} uploaded, {uploaded['kept']} already there")

    say(f"Starting Airflow standalone on {stack.api_url} (first start takes a minute) ...")
    with still(f"waiting for the Airflow API server and scheduler (log: {stack.log_dir / 'airflow.log'})"):
        stack.start_airflow()
    api = AirflowAPI(stack.api_url, "admin", stack.admin_password())
    for dag_id in ("final_project", "create_tables", "sparkify_analytics"):
        with still(f"waiting for Airflow to parse {dag_id}"):
            api.wait_for_dag(dag_id)
    api.unpause("sparkify_analytics")  # follows final_project's table assets
    api.unpause("final_project")
    api.unpause("create_tables")

    full_loads = [r for r in api.runs("final_project") if r["run_type"] == "asset_triggered"]
    if uploaded["uploaded"] and full_loads:
        say("New objects were uploaded: triggering create_tables for a new full load ...")
        api.trigger("create_tables")
    known = {r["dag_run_id"] for r in full_loads} if uploaded["uploaded"] else set()

    say("Waiting for create_tables and the full load it triggers ...")
    api.wait_for_run("create_tables", lambda r: True, timeout=600, what="a run",
                     progress=RunProgress(api, "create_tables", "create_tables"))

    full = api.wait_for_run(
        "final_project",
        lambda r: r["run_type"] == "asset_triggered" and r["dag_run_id"] not in known,
        timeout=1800, what="the asset-triggered full load",
        progress=RunProgress(api, "final_project", "full load",
                             runs=lambda rs: [r for r in rs if r["run_type"] == "asset_triggered"]))
    say(f"Full load {full['dag_run_id']}: {full['state']}")

    # An hourly run's logical date is the end of its hour: the runs covering [start, end)
    # are those dated start + 1h ... end. They are triggered with those logical dates (what a
    # backfill creates); the DAG's max_active_runs=1 runs them in order. The backfill API is
    # not used here: on SQLite, creating a backfill while the scheduler runs can crash the
    # scheduler (see README, "Backfill").
    hours = []
    moment = datetime.fromisoformat(start) + timedelta(hours=1)
    while moment <= datetime.fromisoformat(end):
        hours.append(moment)
        moment += timedelta(hours=1)
    say(f"Running the {len(hours)} hourly runs covering {start} .. {end} ...")
    by_date = {parse_when(r["logical_date"]): r for r in api.runs("final_project") if r["logical_date"]}
    for hour in hours:
        run = by_date.get(hour.isoformat())
        if run is None:
            api.trigger("final_project", logical_date=hour.isoformat())
        elif run["state"] == "failed":
            api.clear_run("final_project", run["dag_run_id"])
    wanted = {h.isoformat() for h in hours}

    def window_runs(runs: list[dict]) -> list[dict]:
        return [r for r in runs if r["logical_date"] and parse_when(r["logical_date"]) in wanted]

    # Says the runs' states and what the running one is doing, on change or every 30 s.
    hourly = RunProgress(api, "final_project", "current hour", runs=window_runs)
    while True:
        runs = window_runs(api.runs("final_project"))
        if len(runs) == len(hours) and all(r["state"] in ("success", "failed") for r in runs):
            say(f"  hourly runs: {run_states(runs)} ({time.monotonic() - hourly.t0:.0f}s)")
            break
        hourly(prefix=f"hourly runs: {run_states(runs)}; ")
        time.sleep(5)

    from dev.report import report

    print(report(stack, api, full, runs))
    return 0 if full["state"] == "success" and all(r["state"] == "success" for r in runs) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
