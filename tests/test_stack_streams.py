"""The stack layer's streams (tests/conftest.py): which tests run in which pytest-xdist
worker under `make test-stack` (``-n 3 --dist loadgroup``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests import conftest

TESTS = Path(__file__).resolve().parent


class Config:
    """What pytest-xdist's scheduler reads of the controller's configuration."""

    def __init__(self, dist: str, workers: int = 2):
        self.options = {"dist": dist, "tx": [f"{workers}*popen"]}
        self.option = SimpleNamespace(loadscopereorder=True)  # pytest-xdist's default

    def getoption(self, name, default=None):
        return self.options.get(name, default)

    getvalue = getoption


def item(module: str, *fixturenames: str):
    return SimpleNamespace(
        module=SimpleNamespace(__name__=f"tests.{module}"),
        fixturenames=list(fixturenames),
        nodeid=f"tests/{module}.py::test_it",
        markers=[],
        add_marker=lambda mark: None,
    )


def test_the_listed_modules_exist():
    for module in conftest.SCHEDULER_STREAM_MODULES | conftest.REAL_DATA_STREAM_MODULES | conftest.OWN_STACK_MODULES:
        assert len(list(TESTS.rglob(f"{module}.py"))) == 1, module  # one module of that name, at any depth


def test_a_test_s_fixtures_decide_its_stream():
    assert conftest.stack_stream(["scheduler_api", "scheduler_stack", "tmp_path"], "test_ui") == "scheduler"
    assert conftest.stack_stream(["full_load", "stack", "source"], "test_e2e_real_data") == "real-data"
    assert conftest.stack_stream(["stack", "real_bucket"], "test_bad_input") == "dag-test"
    assert conftest.stack_stream(["airflow_db"], "test_migrations") == "dag-test"
    assert conftest.stack_stream(["fault_stack"], "test_faults") == "test_faults"


def test_loadgroup_makes_one_work_unit_per_stream():
    scheduler = conftest.pytest_xdist_make_scheduler(Config("loadgroup"), None)
    assert isinstance(scheduler, LoadScopeScheduling)
    units = {
        "tests/test_ui.py::test_asset_graph_shows_the_lineage": "scheduler",
        "tests/test_scheduler.py::test_parallel_backfill_gives_the_serial_result": "scheduler",
        "tests/test_bad_input.py::test_x[a::b.json]": "dag-test",
        "tests/test_e2e_real_data.py::test_full_load_matches_the_json": "real-data",
        "tests/test_write_audit_publish.py::test_a_reader_never_sees_part_of_a_publish": "real-data",
        "tests/test_make_run.py::test_make_stop_leaves_no_process_and_no_open_port": "test_make_run",
    }
    assert {nodeid: scheduler._split_scope(nodeid) for nodeid in units} == units


class Worker:
    """What pytest-xdist's scheduler uses of a worker: the test indexes it is sent."""

    def __init__(self, name: str):
        self.gateway, self.sent, self.shutting_down = SimpleNamespace(id=name), [], False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def test_each_worker_takes_the_longest_unit_left():
    # Test counts of some of the suite's modules: pytest-xdist's own order (by count) would
    # send the dag.test() stream, test_fetch and test_runtime_files first, and test_make_run last.
    counts = {
        "test_bad_input": 44,
        "unit/staging/test_fetch": 22,
        "test_runtime_files": 14,
        "test_ui": 8,
        "test_scheduler": 4,
        "test_e2e_real_data": 7,
        "test_catalog_loads": 3,
        "test_stack_stop": 6,
        "test_faults": 5,
        "test_bench_smoke": 4,
        "test_make_run": 3,
    }
    collection = [f"tests/{module}.py::test_{n}" for module, count in counts.items() for n in range(count)]
    scheduler = conftest.pytest_xdist_make_scheduler(Config("loadgroup", workers=3), None)
    workers = [Worker(f"gw{n}") for n in range(3)]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()

    def units(worker: Worker) -> list[str]:
        return [scheduler._split_scope(collection[batch[0]]) for batch in worker.sent]

    assert [units(worker) for worker in workers] == [["real-data"], ["scheduler"], ["dag-test"]]
    # The dag.test() stream ends first: its worker takes test_make_run; then the ranked units,
    # then the others by test count.
    for index in workers[2].sent[0]:
        scheduler.mark_test_complete(workers[2], index)
    assert units(workers[2]) == ["dag-test", "test_make_run"]
    assert list(scheduler.workqueue) == [
        "test_bench_smoke",
        "test_faults",
        "test_runtime_files",
        "test_fetch",
        "test_stack_stop",
    ]


def test_the_ordered_units_are_units():
    streams = {"scheduler", "real-data", "dag-test"} | conftest.OWN_STACK_MODULES
    assert set(conftest.STREAMS_LONGEST_FIRST) <= streams


def test_other_distributions_keep_pytest_xdist_s_scheduler():
    assert conftest.pytest_xdist_make_scheduler(Config("load"), None) is None


def test_a_module_whose_tests_belong_in_another_stream_is_refused():
    # a scheduler-stack test in a module of the dag.test() stream
    with pytest.raises(pytest.UsageError, match="belongs in the 'scheduler' stream"):
        conftest.pytest_itemcollected(item("test_rows", "scheduler_stack"))
    conftest.pytest_itemcollected(item("test_ui", "scheduler_stack"))  # its own stream: accepted


def test_a_real_data_test_in_a_module_of_another_stream_is_refused():
    with pytest.raises(pytest.UsageError, match="belongs in the 'real-data' stream"):
        conftest.pytest_itemcollected(item("test_bad_input", "full_load", "stack"))
    conftest.pytest_itemcollected(item("test_catalog_loads", "full_load", "stack"))  # its own stream: accepted


def run_items(modules: list[str], worker_dist: str | None):
    """Items of the given modules in run order, in a session as pytest (worker_dist None) or a
    pytest-xdist worker under that distribution gives them."""
    options = {} if worker_dist is None else {"dist": worker_dist}
    config = SimpleNamespace(getoption=lambda name, default=None: options.get(name, default))
    if worker_dist is not None:
        config.workerinput = {}
    session = SimpleNamespace(items=[])
    for module in modules:
        session.items.append(SimpleNamespace(module=SimpleNamespace(__name__=f"tests.{module}"), config=config))
        session.items[-1].session = session
    return session.items


def test_the_scheduler_stack_stops_after_the_last_scheduler_test_of_a_session():
    order = ["test_ui", "test_rows", "test_scheduler", "test_bad_input", "test_migrations"]
    items = run_items(order, worker_dist=None)
    ahead = [conftest.scheduler_tests_ahead(item, nxt) for item, nxt in zip(items, [*items[1:], None])]
    assert ahead == [True, True, False, False, False]


def test_under_loadgroup_a_worker_s_next_test_tells():
    # a worker is sent the whole scheduler stream at once: the first test of another stream ends it
    items = run_items(["test_ui", "test_scheduler", "test_bench_smoke", "test_rows"], worker_dist="loadgroup")
    ahead = [conftest.scheduler_tests_ahead(item, nxt) for item, nxt in zip(items, [*items[1:], None])]
    assert ahead == [True, False, False, False]


def test_under_another_distribution_the_stack_lives_to_the_end():
    items = run_items(["test_ui", "test_rows"], worker_dist="load")
    assert [conftest.scheduler_tests_ahead(item, None) for item in items] == [True, True]


HOME_PROBE = """
import os
def test_home():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(os.path.join(os.environ["PROBE_OUT"], worker), "w") as out:
        out.write(os.environ["AIRFLOW_HOME"] + "\\n" + os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
"""


def test_each_worker_has_an_airflow_home_of_its_own_removed_at_the_end(tmp_path):
    """The root conftest.py gives each pytest-xdist worker its own Airflow home (SQLite), so
    two streams can run dag.test() at once; the homes are gone when the session ends."""
    (tmp_path / "test_probe.py").write_text(
        HOME_PROBE.replace("def test_home", "def test_one") + HOME_PROBE.replace("def test_home", "def test_two")
    )
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SPARKIFY_TEST_", "PYTEST_"))}
    env.update({"PROBE_OUT": str(out), "PYTHONPATH": str(conftest.REPO)})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "--dist",
            "each",
            "-p",
            "conftest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "test_probe.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = {p.name: p.read_text().split("\n") for p in out.iterdir()}
    assert sorted(seen) == ["gw0", "gw1"]
    homes = {home for home, _ in seen.values()}
    assert len(homes) == 2
    for home, database in seen.values():
        assert database == f"sqlite:///{home}/airflow.db"
        assert not Path(home).exists()
