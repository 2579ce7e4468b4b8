"""bench/machine_load.py: what counts as the benchmark's own processes when it measures how
busy the machine was."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bench.machine_load import _family


def seen_from_another_process(code: str) -> list[str]:
    """What ``code`` prints, run in a new interpreter (to which this test's processes are not its own)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_a_daemon_is_the_benchmarks_own_by_its_command_line_or_its_working_directory(tmp_path):
    work = tmp_path / "work"
    (work / "stack").mkdir(parents=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    # named by its command line; renamed (no path in it) but running in the stack's directory; neither
    by_name = subprocess.Popen([*sleeper, str(work)], cwd=tmp_path, start_new_session=True)
    by_cwd = subprocess.Popen(sleeper, cwd=work / "stack", start_new_session=True)
    other = subprocess.Popen(sleeper, cwd=tmp_path, start_new_session=True)
    try:
        family = _family((str(work),))
        assert by_name.pid in family and by_cwd.pid in family
        assert other.pid in family  # a child of this process: the benchmark's own too
        # seen from another process, the unrelated one is foreign
        family_there = f"_family(({str(work)!r},))"
        out = seen_from_another_process(
            f"from bench.machine_load import _family; print({other.pid} in {family_there}, {by_cwd.pid} in {family_there})"
        )
        assert out == ["False", "True"]
    finally:
        for proc in (by_name, by_cwd, other):
            proc.kill()
            proc.wait()


ZOMBIE_MAKER = """
import os, sys, time
pid = os.fork()
if pid == 0:  # busy for half a second, then exits; nobody reaps it
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    os._exit(0)
print(pid, flush=True)
time.sleep(60)
"""


def test_a_zombie_is_not_counted_with_its_whole_life_s_cpu(tmp_path):
    """A process that ended and was not reaped yet (as the benchmark's own daemons, reparented
    to init, once stopped) has no command line or directory to be known by: it is left out."""
    maker = subprocess.Popen(
        [sys.executable, "-c", ZOMBIE_MAKER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        zombie = int(maker.stdout.readline())
        deadline = time.monotonic() + 30
        while psutil.Process(zombie).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.05)
        assert sum(psutil.Process(zombie).cpu_times()[:2]) >= 0.4  # what it would have added
        # seen from another process, to which the maker and its child are foreign
        out = seen_from_another_process(
            f"from bench.machine_load import _foreign_cpu_seconds as f; seen = f(()); print({maker.pid} in seen, {zombie} in seen)"
        )
        assert out == ["True", "False"]
    finally:
        maker.kill()
        maker.wait()
