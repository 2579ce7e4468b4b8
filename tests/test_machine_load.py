"""bench/machine_load.py: what counts as the benchmark's own processes when it measures how
busy the machine was."""

from __future__ import annotations

import subprocess
import sys

from bench.machine_load import _family


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
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from bench.machine_load import _family; print({other.pid} in _family(({str(work)!r},)), {by_cwd.pid} in _family(({str(work)!r},)))",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert out == ["False", "True"]
    finally:
        for proc in (by_name, by_cwd, other):
            proc.kill()
            proc.wait()
