"""One staging load in a process of its own, as the staging task runs it: prints its
figures as JSON (seconds, rows, peak RSS). Used by bench/run.py so that each measured
load has a clean process and its own peak RSS.

    python -m bench.stage_once <bucket> [events|songs]

The connections and the bucket come from the environment (AIRFLOW_CONN_*), as in a task.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the
    parent across fork and exec, so a child of a big parent would report the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> int:
    # What the task imports anyway, loaded before the clock starts: the figure is the load.
    import boto3  # noqa: F401 - imported only to load it before the clock starts
    import psycopg  # noqa: F401 - imported only to load it before the clock starts
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook  # noqa: F401 - imported only to load it before the clock starts
    from airflow.providers.postgres.hooks.postgres import PostgresHook  # noqa: F401 - imported only to load it before the clock starts

    from include.sparkify import staging
    from include.sparkify.window import Window

    bucket = argv[0]
    source = staging.SOURCES["staging_" + (argv[1] if len(argv) > 1 else "events")]
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    result = staging.stage(source, Window(), run_id=f"bench__{int(time.time())}", bucket=bucket, force=True)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": round(seconds, 3),
                "rows": result["rows"],
                "records": result["records"],
                "rejected": result["rejected"],
                "bytes": result["bytes"],
                "peak_rss_mb": peak_rss_mb(),
                "rss_before_load_mb": rss_before,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
