"""`make stop` leaves nothing: Stack.stop() ends every process the stack started, those that
ignore SIGTERM and those in process groups of their own (as Airflow's task processes are)
included, and waits for all of them, not only the one it started."""

from __future__ import annotations

import sys
import textwrap

import psutil
import pytest

from dev.stack import Stack

# A component that ignores SIGTERM and leaves a child in a process group of its own that
# ignores it too: the scheduler and a LocalExecutor worker once outlived `make stop` so.
STUBBORN = textwrap.dedent("""
    import os, signal, sys, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setpgid(0, 0)
        with open(sys.argv[1], "w") as f:
            f.write(str(os.getpid()))
    while True:
        time.sleep(1)
""")


def wait_for_file(path, timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.1)
    return int(path.read_text())


def ended(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("component", ["airflow-scheduler", "moto"])
def test_stop_kills_processes_that_ignore_sigterm_and_their_own_groups(tmp_path, component):
    stack = Stack(tmp_path / "stack")
    leader = stack._spawn(component, [sys.executable, "-c", STUBBORN, str(tmp_path / "child.pid")])
    child = wait_for_file(tmp_path / "child.pid")
    assert psutil.Process(child).pid != leader
    assert {p.pid for p in stack.processes()} == {leader, child}
    assert psutil.Process(child).as_dict(["pid"])  # alive, in another process group
    import os

    assert os.getpgid(child) != os.getpgid(leader)

    stack._kill(component, timeout=2)
    assert ended(child)
    assert stack.processes() == []
    assert not (stack.pid_dir / f"{component}.pid").exists()


def test_stop_finds_orphans_without_a_pid_file(tmp_path):
    """A process of the stack whose pid file is gone (an earlier, interrupted stop) is ended too."""
    stack = Stack(tmp_path / "stack")
    stack._spawn("airflow-triggerer", [sys.executable, "-c", STUBBORN, str(tmp_path / "child.pid")])
    child = wait_for_file(tmp_path / "child.pid")
    (stack.pid_dir / "airflow-triggerer.pid").unlink()
    stack.stop_airflow(timeout=2)
    assert stack.processes() == []
    assert ended(child)


def test_stop_leaves_other_stacks_alone(tmp_path):
    ours, theirs = Stack(tmp_path / "ours"), Stack(tmp_path / "theirs")
    other = theirs._spawn("moto", [sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        ours._spawn("moto", [sys.executable, "-c", "import time; time.sleep(60)"])
        ours.stop_airflow(timeout=2)
        ours._kill("moto", timeout=5)
        assert ours.processes() == [] and psutil.pid_exists(other)
    finally:
        theirs._kill("moto", timeout=5)


def test_stop_ends_the_standalone_of_an_earlier_release(tmp_path):
    """A stack started by the release before this one ran `airflow standalone` under the pid
    file `airflow.pid`, without the marker: `make stop` after an upgrade still ends it and its
    children."""
    import subprocess

    stack = Stack(tmp_path / "stack")
    leader = subprocess.Popen(
        [sys.executable, "-c", STUBBORN, str(tmp_path / "child.pid")], start_new_session=True, stdin=subprocess.DEVNULL
    )
    (stack.pid_dir / "airflow.pid").write_text(str(leader.pid))
    child = wait_for_file(tmp_path / "child.pid")
    stack.stop_airflow(timeout=2)
    leader.wait(10)
    assert ended(child)
    assert not (stack.pid_dir / "airflow.pid").exists()


# A component that, on SIGTERM, notes it (term-<name>) and whether the scheduler had ended by
# then; the scheduler ends half a second later (ended-scheduler), the others only once each
# of them has had its SIGTERM, so they end by themselves only if they are stopped together.
COMPONENT = textwrap.dedent("""
    import os, signal, sys, time
    name, shared = sys.argv[1], sys.argv[2]
    others = {"triggerer", "dag-processor", "api-server"} - {name}
    note = lambda what: open(os.path.join(shared, what), "w").close()
    def on_term(*_):
        note(f"term-{name}")
        if name == "scheduler":
            time.sleep(0.5)  # as a scheduler takes a while to end
            note("ended-scheduler")
            sys.exit(0)
        if os.path.exists(os.path.join(shared, "ended-scheduler")):
            note(f"after-scheduler-{name}")
        deadline = time.monotonic() + 10
        while not all(os.path.exists(os.path.join(shared, f"term-{o}")) for o in others):
            if time.monotonic() > deadline:
                sys.exit(1)
            time.sleep(0.05)
        note(f"ended-{name}")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    with open(os.path.join(shared, f"up-{name}"), "w") as f:
        f.write(str(os.getpid()))
    while True:
        time.sleep(1)
""")


def test_stop_ends_the_scheduler_first_then_the_other_components_together(tmp_path):
    from dev.stack import AIRFLOW_COMPONENTS

    stack = Stack(tmp_path / "stack")
    shared = tmp_path / "shared"
    shared.mkdir()
    for component in AIRFLOW_COMPONENTS:
        stack._spawn(f"airflow-{component}", [sys.executable, "-c", COMPONENT, component, str(shared)])
    for component in AIRFLOW_COMPONENTS:
        wait_for_file(shared / f"up-{component}")
    stack.stop_airflow(timeout=20)
    others = [c for c in AIRFLOW_COMPONENTS if c != "scheduler"]
    assert len(others) == 3
    for component in others:
        assert (shared / f"after-scheduler-{component}").exists(), f"{component} was stopped before the scheduler ended"
        assert (shared / f"ended-{component}").exists(), f"{component} was not stopped together with the others"
    assert stack.processes() == []


# STUBBORN that ends on SIGTERM, as its child does.
FORKING = STUBBORN.replace("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n", "")
assert FORKING != STUBBORN
SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_killed_sessions_stack_is_stopped_and_its_state_removed_by_the_next_session(tmp_path):
    """A test session killed by SIGKILL leaves its stack running and its state directory; the
    next session stops that stack (here nested, as the bench's is) and removes the directory.
    A live session's directory and the kept logs stay."""
    import subprocess

    from tests.conftest import OWNER_FILE, process_identity, remove_orphaned_stack_states

    killed = subprocess.Popen(SLEEPER)
    killed_identity = process_identity(killed.pid)
    killed.kill()
    killed.wait()
    orphan = tmp_path / "sparkify-test-bench-a1"
    orphan.mkdir()
    (orphan / OWNER_FILE).write_text(killed_identity)
    stack = Stack(orphan / "work" / "stack")
    leader = stack._spawn("airflow-scheduler", [sys.executable, "-c", FORKING, str(tmp_path / "child.pid")])
    child = wait_for_file(tmp_path / "child.pid")

    live = tmp_path / "sparkify-test-stack-b2"
    live.mkdir()
    (live / OWNER_FILE).write_text(process_identity())
    theirs = Stack(live)
    other = theirs._spawn("moto", SLEEPER)
    (tmp_path / "sparkify-test-logs" / "sparkify-test-stack-c3").mkdir(parents=True)
    try:
        assert remove_orphaned_stack_states(tmp_path) == [orphan]
        assert not orphan.exists() and ended(leader) and ended(child)
        assert live.is_dir() and theirs.processes() and psutil.Process(other).is_running()
        assert (tmp_path / "sparkify-test-logs" / "sparkify-test-stack-c3").is_dir()
    finally:
        theirs._kill("moto", timeout=5)


def test_a_state_without_an_owner_is_removed_only_if_nothing_of_it_runs(tmp_path):
    """A directory of a release that wrote no owner file: removed when its stack is not running;
    left alone while it runs (its session may still be going)."""
    from tests.conftest import remove_orphaned_stack_states

    idle, running = tmp_path / "sparkify-test-stack-a1", tmp_path / "sparkify-test-faults-b2"
    Stack(idle)
    busy = Stack(running)
    pid = busy._spawn("moto", SLEEPER)
    try:
        assert remove_orphaned_stack_states(tmp_path) == [idle]
        assert not idle.exists() and running.is_dir() and psutil.pid_exists(pid)
    finally:
        busy._kill("moto", timeout=5)


def test_a_stack_state_names_its_owner_while_it_lives():
    from tests.conftest import owner_alive, stack_state

    with stack_state("owner") as state:
        assert owner_alive(state)
    assert not state.exists()
