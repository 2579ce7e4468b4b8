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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dev.airflow_api import AirflowAPI
from dev.console import say
from dev.stack import REPO, Stack
from include.sparkify import task_ids


@contextlib.contextmanager
def still(what: str, every: float = 20):
    """Say "still <what> (Ns)" every `every` seconds until the block ends: a step that waits
    for a process (Airflow starting, the DAGs being parsed) is never silent for long."""
    done = threading.Event()
    t0 = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            say(f"  still {what} ({time.monotonic() - t0:.0f}s)")

    ticker = threading.Thread(target=tick, daemon=True, name=f"still {what}")
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
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def data_dir(stack: Stack) -> Path:
    configured = os.environ.get("SPARKIFY_DATA_DIR")
    if configured:
        path = Path(configured).expanduser().resolve()
        if not (path / "log_data").is_dir() or not (path / "song_data").is_dir():
            raise SystemExit(f"SPARKIFY_DATA_DIR={configured}: expected log_data/ and song_data/ in it")
        return path
    from dev.datagen import GeneratorSpec, generate

    sample = stack.state_dir / "sample"
    if not (sample / "log_json_path.json").exists():
        say(f"Generating the sample data set in {sample} ...")
        summary = generate(sample, GeneratorSpec())
        say(f"  {summary['events']} events in {summary['log_files']} log files, {summary['song_files']} songs")
    return sample


DAY_FILES = "log_data/%Y/%m/%Y-%m-%d-events.json"


def in_log_layout(stack: Stack, source: Path) -> Path:
    """The data set as the pipeline will read it: with SPARKIFY_LOG_KEY_TEMPLATE set to another
    layout than the day files (e.g. hour partitions), a copy of it with the day files
    re-partitioned by that template, in .local/partitioned/ (made once per data set and
    template)."""
    template = os.environ.get("SPARKIFY_LOG_KEY_TEMPLATE", DAY_FILES)
    if template == DAY_FILES or not any((source / "log_data").rglob("????-??-??-events.json")):
        return source
    import hashlib

    from dev.partition import partitioned_copy

    digest = hashlib.sha256(f"{source}\n{template}".encode()).hexdigest()[:12]
    target = stack.state_dir / "partitioned" / digest
    if not (target / "log_json_path.json").exists():
        say(f"Re-partitioning the logs of {source} by SPARKIFY_LOG_KEY_TEMPLATE={template} into {target} ...")
        summary = partitioned_copy(source, target, template)
        say(f"  {summary['events']} events in {summary['objects']} objects")
    return target


def reset_if_source_changed(stack: Stack, source: Path) -> None:
    """The local warehouse keeps its tables between runs. When make run is pointed at another
    data set, empty them (not `schema_migrations`: the schema stays as migrated) so the report
    shows that data set only, and empty the bucket too, so the upload that follows brings a
    new full load."""
    marker = stack.state_dir / "data_source"
    previous = marker.read_text().strip() if marker.exists() else None
    if previous is not None and previous != str(source):
        import psycopg

        say(f"The data set changed (was {previous}): emptying the local warehouse tables ...")
        with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
                ).fetchall()
            ]
            if tables:
                conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables))
        stack.stop_s3()  # and the bucket: moto keeps objects in memory
        stack.start_s3()
    marker.write_text(str(source))


def run_states(runs: list[dict]) -> str:
    counts: dict[str, int] = {}
    for run in runs:
        counts[run["state"]] = counts.get(run["state"], 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none yet"


class RunFailed(SystemExit):
    """make run ends: a run it waited for failed for good. Exits 1 with the message."""

    def __init__(self, message: str) -> None:
        say(message)
        super().__init__(1)


def main() -> int:
    stack = Stack.from_env()
    start = parse_when(os.environ.get("SPARKIFY_START", "2018-11-01"))
    end = parse_when(os.environ.get("SPARKIFY_END", "2018-11-02"))

    say("Starting the warehouse (embedded PostgreSQL) and S3 (moto server) ...")
    stack.start_postgres()
    stack.start_s3()
    source = in_log_layout(stack, data_dir(stack))
    reset_if_source_changed(stack, source)
    say(f"Putting {source} into s3://{stack.bucket}/ (objects already there are kept) ...")
    uploaded = stack.seed(source)
    say(f"  {uploaded['uploaded']} uploaded, {uploaded['kept']} already there")

    say(
        f"Starting Airflow on {stack.api_url}: metadata database on the embedded PostgreSQL, scheduler "
        "(LocalExecutor), DAG processor, triggerer, API server (the first start takes a minute) ..."
    )
    with still(f"waiting for Airflow's components (logs: {stack.log_dir}/airflow-*.log)"):
        stack.start_airflow()
    api = AirflowAPI(stack.api_url, "admin", stack.admin_password())
    rollups = (task_ids.ANALYTICS_DAG, task_ids.MONTHLY_DAG)
    for dag_id in ("final_project", "create_tables", *rollups):
        with still(f"waiting for Airflow to parse {dag_id}"):
            api.wait_for_dag(dag_id)
    for dag_id in rollups:  # before final_project publishes: a paused rollup never counts an hour
        api.unpause(dag_id)
    api.unpause("final_project")
    api.unpause("create_tables")
    failures = TaskFailures(api, stack.airflow_home / "logs")

    # create_tables migrates the warehouse (a no-op when it is current); it emits the schema
    # asset, and so an asset-triggered full load, only when it changed the schema.
    earlier = api.runs("create_tables")
    if earlier:
        say("Running create_tables: migrating the warehouse to the newest schema ...")
        api.trigger("create_tables")
    else:
        say("Running create_tables (its first run): creating the warehouse schema ...")
    known_full = {r["dag_run_id"] for r in api.runs("final_project") if r["data_interval_start"] is None}
    known_ct = {r["dag_run_id"] for r in earlier}
    created = api.wait_for_run(
        "create_tables",
        lambda r: r["dag_run_id"] not in known_ct,
        timeout=600,
        what="the create_tables run",
        progress=both(RunProgress(api, "create_tables", "create_tables"), lambda: failures.say_new("create_tables")),
    )
    if created["state"] != "success":
        raise RunFailed(failures.final_message("create_tables", created))
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances("create_tables", created["dag_run_id"])}
    if states.get(task_ids.STOP) == "success":
        say("  the schema changed: its asset triggers a full load")
    elif uploaded["uploaded"] or not any(
        r["state"] == "success" and r["data_interval_start"] is None for r in api.runs("final_project")
    ):
        say(
            "  the schema is current; new objects were uploaded: triggering a full load (a manual run "
            "without a logical date) ..."
        )
        api.trigger("final_project")
    else:
        say("  the schema is current and nothing new was uploaded: no full load")
        known_full = None

    full = None
    if known_full is not None:
        full = api.wait_for_run(
            "final_project",
            lambda r: r["data_interval_start"] is None and r["dag_run_id"] not in known_full,
            timeout=1800,
            what="the full load",
            progress=both(
                RunProgress(
                    api,
                    "final_project",
                    "full load",
                    runs=lambda rs: [
                        r for r in rs if r["data_interval_start"] is None and r["dag_run_id"] not in known_full
                    ],
                ),
                lambda: failures.say_new("final_project"),
            ),
        )
        say(f"Full load {full['dag_run_id']}: {full['state']}")
        if full["state"] != "success":
            raise RunFailed(failures.final_message("final_project", full))

    runs = run_window(api, failures, start, end)
    wait_for_rollups(api, rollup_due(runs))
    from dev.report import report

    print(report(stack, api, full, runs))
    if not all(r["state"] == "success" for r in runs):
        raise RunFailed(
            f"{sum(r['state'] != 'success' for r in runs)} of the window's {len(runs)} hourly runs "
            "failed: see the lines marked ! above"
        )
    return 0


def rollup_due(runs: list[dict]) -> dict[str, datetime]:
    """The days whose 24 hourly runs are among ``runs``, all succeeded: each fires a
    sparkify_analytics run once its last hour is published, so after that run started."""
    by_day: dict[str, list[dict]] = {}
    for run in runs:
        by_day.setdefault(parse_when(run["data_interval_start"])[:10], []).append(run)
    return {
        day: max(datetime.fromisoformat(r["start_date"]) for r in day_runs)
        for day, day_runs in by_day.items()
        if len(day_runs) == 24 and all(r["state"] == "success" for r in day_runs)
    }


def wait_for_rollups(api: AirflowAPI, due: dict[str, datetime], timeout: float = 300) -> None:
    """Until the rollups the window fired have finished: for each day in ``due``, a finished
    sparkify_analytics run of that day queued after the given time, and no rollup run queued
    or running for 3 s. A rollup run exists within a second of the asset event that completes
    its partition (a day's 24th hour; a month's last day), so 3 s without one means the chain
    is done."""
    rollups = (task_ids.ANALYTICS_DAG, task_ids.MONTHLY_DAG)
    deadline, quiet_since, said = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        runs = {d: api.runs(d) for d in rollups}
        pending = [r for d in rollups for r in runs[d] if r["state"] in ("queued", "running")]
        rolled_up = {
            day
            for day, after in due.items()
            for r in runs[task_ids.ANALYTICS_DAG]
            if r["partition_key"] == day
            and r["state"] in ("success", "failed")
            and datetime.fromisoformat(r["queued_at"]) >= after
        }
        if pending or rolled_up != set(due):
            keys = ", ".join(sorted({r["partition_key"] or "-" for r in pending} | (set(due) - rolled_up)))
            if keys != said:
                say(f"  rollups running: {keys}")
                said = keys
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 3:
            return
        time.sleep(1)
    say(f"  rollups still running after {timeout:.0f} s: the report shows them as they are")


def both(*callbacks):
    def call() -> None:
        for callback in callbacks:
            callback()

    return call


def window_hours(start: str, end: str) -> list[datetime]:
    """The start of each hour in [start, end): the data intervals of the window's hourly runs."""
    hours, moment = [], datetime.fromisoformat(start)
    while moment + timedelta(hours=1) <= datetime.fromisoformat(end):
        hours.append(moment)
        moment += timedelta(hours=1)
    return hours


def run_window(api: AirflowAPI, failures: TaskFailures, start: str, end: str) -> list[dict]:
    """The window's hourly runs as an Airflow backfill (the DAG's Backfills tab shows it), up to
    SPARKIFY_BACKFILL_MAX_ACTIVE_RUNS (default 4) at once; runs that already succeeded are kept.
    Returns the window's runs, finished."""
    hours = window_hours(start, end)
    wanted = {h.isoformat() for h in hours}

    def window_runs(runs: list[dict]) -> list[dict]:
        """The runs whose data interval is one of the window's hours (a run is found by what it
        loads: a backfill run's logical date is its interval's start, a scheduled run's the end)."""
        return [
            r
            for r in runs
            if r["data_interval_start"]
            and r["data_interval_end"]
            and parse_when(r["data_interval_start"]) in wanted
            and datetime.fromisoformat(parse_when(r["data_interval_end"])) - timedelta(hours=1)
            == datetime.fromisoformat(parse_when(r["data_interval_start"]))
        ]

    existing = window_runs(api.runs("final_project"))
    if len(existing) == len(hours) and all(r["state"] == "success" for r in existing):
        say(f"The {len(hours)} hourly runs covering {start} .. {end} already succeeded: nothing to backfill")
        return existing
    active = [b for b in api.backfills("final_project") if not b["completed_at"]]
    if active:
        backfill = active[0]
        say(f"Following backfill {backfill['id']} of final_project, already under way ...")
    else:
        max_active = int(os.environ.get("SPARKIFY_BACKFILL_MAX_ACTIVE_RUNS", "4"))
        # from_date and to_date bound the runs' run_after, the end of each hour; both included.
        backfill = api.create_backfill(
            "final_project",
            (hours[0] + timedelta(hours=1)).isoformat(),
            (hours[-1] + timedelta(hours=1)).isoformat(),
            max_active_runs=max_active,
            reprocess_behavior="failed",
        )
        say(
            f"Backfill {backfill['id']} of final_project: the {len(hours)} hourly runs covering {start} .. {end}, "
            f"up to {max_active} at once (UI: Dags > final_project > Backfills) ..."
        )
    progress = BackfillProgress(api, backfill["id"], window_runs)
    while True:
        runs = window_runs(api.runs("final_project"))
        failures.say_new("final_project")
        # Done when every run of the window finished. Not waiting for the backfill's
        # completed_at: the scheduler sets it on a 30 s timer (_mark_backfills_complete).
        if len(runs) >= len(hours) and all(r["state"] in ("success", "failed") for r in runs):
            say(
                f"  backfill {backfill['id']}: its runs finished: {run_states(runs)} ({time.monotonic() - progress.t0:.0f}s)"
            )
            return runs
        progress(runs)
        time.sleep(5)


class BackfillProgress:
    """The backfill's runs by state, said when a run changes state or every 30 s, with what the
    running ones are doing at that moment."""

    def __init__(self, api: AirflowAPI, backfill_id: int, window_runs) -> None:
        self.api, self.backfill_id, self.window_runs = api, backfill_id, window_runs
        self.t0 = time.monotonic()
        self.states, self.at = "", 0.0

    def describe(self, runs: list[dict]) -> str:
        active: dict[str, list[str]] = {}
        if any(r["state"] == "running" for r in runs):
            for ti in self.api.running_task_instances("final_project"):  # one request for every run
                active.setdefault(ti["dag_run_id"], []).append(ti["task_id"].rsplit(".", 1)[-1])
        now = [
            f"{parse_when(run['data_interval_start'])[11:16]} {'+'.join(sorted(active.get(run['dag_run_id'], []))) or '-'}"
            for run in runs
            if run["state"] == "running"
        ]
        return f"backfill {self.backfill_id}: {run_states(runs)}; now: {', '.join(now) or '-'}"

    def __call__(self, runs: list[dict]) -> None:
        states = run_states(runs)
        if states != self.states or time.monotonic() - self.at > 30:
            say(f"  {self.describe(runs)} ({time.monotonic() - self.t0:.0f}s)")
            self.states, self.at = states, time.monotonic()


FAILED = ("failed", "up_for_retry")


class TaskFailures:
    """Says each task attempt that failed or is up for retry, once: the task, the run, the
    attempt, the first line of its error, when the retry is due and the log file's path."""

    def __init__(self, api: AirflowAPI, logs_dir: Path) -> None:
        self.api, self.logs_dir = api, logs_dir
        self.seen: set[tuple] = set()  # the attempts said
        self.read: set[tuple] = set()  # the latest tries whose history was read
        self.messages: dict[str, list[str]] = {}

    def say_new(self, dag_id: str) -> None:
        """Reads every try from the task's history, not only the state polled now: between two
        polls an attempt can fail and its retry start, and that attempt is said too."""
        for ti in self.api.failed_or_retried_task_instances(dag_id):
            latest = (dag_id, ti["dag_run_id"], ti["task_id"], ti["try_number"], ti["state"])
            if latest in self.read:
                continue
            self.read.add(latest)
            tries = self.api.task_tries(dag_id, ti["dag_run_id"], ti["task_id"])
            # The history keeps an attempt that is or was up for retry as "failed": it is the
            # current try of a task instance up for retry, or an earlier one.
            retried = [{**t, "state": "up_for_retry"} if was_retried(t, ti) else t for t in tries]
            for attempt in sorted((t for t in retried if t["state"] in FAILED), key=lambda t: t["try_number"]):
                key = (dag_id, attempt["dag_run_id"], attempt["task_id"], attempt["try_number"], attempt["state"])
                if key in self.seen:
                    continue
                self.seen.add(key)
                delay = self.api.retry_delay(dag_id, attempt["task_id"])
                message = describe_failure(attempt, self.logs_dir, retry_delay=delay)
                self.messages.setdefault(attempt["dag_run_id"], []).append(message)
                say(message)

    def final_message(self, dag_id: str, run: dict) -> str:
        self.say_new(dag_id)
        said = [m for m in self.messages.get(run["dag_run_id"], []) if "failed for good" in m]
        detail = "\n".join(said) or "  (no failed task found: see the run in the UI)"
        return f"{dag_id} run {run['dag_run_id']} failed: make run stops here.\n{detail}"


def was_retried(attempt: dict, ti: dict) -> bool:
    """Whether a try of `ti` (its latest try as the task-instance list shows it) was retried."""
    if attempt["try_number"] == ti["try_number"]:
        return ti["state"] == "up_for_retry"
    return attempt["try_number"] < ti["try_number"]


def describe_failure(ti: dict, logs_dir: Path, retry_delay: timedelta | None) -> str:
    attempt = ti["try_number"]
    of = (ti.get("max_tries") or 0) + 1
    error = first_error_line(task_log(logs_dir, ti))
    if ti["state"] == "up_for_retry":
        due = ""
        if ti.get("end_date") and retry_delay is not None:
            due_at = datetime.fromisoformat(ti["end_date"].replace("Z", "+00:00")) + retry_delay
            due = f"; retry due at {due_at:%H:%M:%S} UTC"
        what = f"failed (attempt {attempt} of {of}), up for retry{due}"
    else:
        what = f"failed for good (attempt {attempt} of {of})"
    log = task_log(logs_dir, ti)
    return f"  ! {ti['task_id']} of {ti['dag_run_id']} {what}: {error}\n    log: {log if log else logs_dir}"


def task_log(logs_dir: Path, ti: dict) -> Path | None:
    """The attempt's log file (Airflow's default layout: dag_id=/run_id=/task_id=/attempt=N.log)."""
    folder = logs_dir / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" / f"task_id={ti['task_id']}"
    path = folder / f"attempt={ti['try_number']}.log"
    return path if path.exists() else None


def first_error_line(log: Path | None) -> str:
    """The exception a task log ends with, as one line: "Type: first line of the message"."""
    import json

    if log is None:
        return "(no log file yet)"
    error = None
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        details = [d for d in event.get("error_detail") or [] if isinstance(d, dict) and d.get("exc_type")]
        if details:  # the exception raised comes first; the exceptions it chains follow
            value = str(details[0].get("exc_value") or "").strip().splitlines()
            error = f"{details[0]['exc_type']}: {value[0] if value else ''}".strip()
        elif error is None and event.get("level") == "error" and event.get("event"):
            error = str(event["event"]).strip().splitlines()[0]
    return error or "(no error in the log: see it)"


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
