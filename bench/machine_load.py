"""How busy the machine was while a benchmark ran, apart from the benchmark itself.

The load average counts the benchmark's own processes (its PostgreSQL, moto, Airflow), so
it cannot tell a quiet machine from a busy one. ``ForeignLoad`` samples, every few seconds,
the CPU time of every process that is not this process or one of its descendants, and
reports it as cores used on average: "busy" when that is a quarter of a core or more. The
benchmark's own services daemonize; they are recognised by a path in their command line or
their working directory (Airflow's API server renames itself to `airflow api_server -- …`,
which names no path, and runs in its stack's state directory).

A zombie is left out. It has no command line and no working directory left to be recognised
by, and its CPU time is that of its whole life: the benchmark's own daemons, reparented to
init when they daemonized, linger as zombies once stopped, and `make stop` at the end of the
make_run benchmark made about 140 CPU-seconds of its stack look foreign (0.46 of a core, so
that benchmark was always marked busy). A foreign process that ends between two samples
loses its last few seconds."""

from __future__ import annotations

import os
import threading
import time

import psutil

BUSY_CORES = 0.25


def _family(markers: tuple[str, ...]) -> set[int]:
    """This process, the processes whose command line names one of ``markers`` or whose
    working directory is below one (the benchmark's own services, which daemonize), and
    their descendants."""
    roots = [psutil.Process()]
    for proc in psutil.process_iter(["cmdline", "cwd"]):
        cmdline = " ".join(proc.info.get("cmdline") or ())
        cwd = proc.info.get("cwd") or ""
        if any(marker in cmdline or cwd.startswith(marker) for marker in markers):
            roots.append(proc)
    family = set()
    for root in roots:
        try:
            family |= {root.pid, *(p.pid for p in root.children(recursive=True))}
        except psutil.Error:
            continue
    return family


def _foreign_cpu_seconds(markers: tuple[str, ...]) -> dict[int, float]:
    family, seconds = _family(markers), {}
    for proc in psutil.process_iter(["status"]):
        if proc.pid in family or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        seconds[proc.pid] = times.user + times.system
    return seconds


class ForeignLoad:
    """A context manager: ``figures()`` afterwards gives the load averages at start and end
    and the CPU other processes used meanwhile."""

    def __init__(self, markers: tuple[str, ...] = (), interval: float = 5.0) -> None:
        self.markers = tuple(markers)
        self.interval = interval
        self._stop = threading.Event()
        self._used = 0.0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        last = _foreign_cpu_seconds(self.markers)
        while not self._stop.wait(self.interval):
            now = _foreign_cpu_seconds(self.markers)
            # a process that started since the last sample counts from zero
            self._used += sum(max(now[pid] - last.get(pid, 0.0), 0.0) for pid in now)
            last = now

    def __enter__(self) -> ForeignLoad:
        self.load_at_start = [round(x, 2) for x in os.getloadavg()]
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = time.monotonic() - self.started
        self.load_at_end = [round(x, 2) for x in os.getloadavg()]

    def figures(self) -> dict:
        cores = round(self._used / max(self.seconds, 1e-9), 2)
        return {
            "load_average_at_start": self.load_at_start,
            "load_average_at_end": self.load_at_end,
            "other_processes_cpu_cores": cores,
            "busy": cores >= BUSY_CORES,
        }
