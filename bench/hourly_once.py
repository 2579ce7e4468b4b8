"""Runs of the DAGs with `dag.test()`, in a process of its own (Airflow reads its
configuration from the environment bench/run.py prepares). Prints JSON.

    python -m bench.hourly_once full               create_tables, then a full load
    python -m bench.hourly_once hours 2018-11-15T11:00 ...   one hourly run per logical date
    python -m bench.hourly_once hours --warm-up 2018-11-15T11:00 ...   the first hour once
        more before them, untimed in "hours" (reported as "warm_up")

A process's first dag.test() pays for what every later run finds done: the operators'
imports, the first connections, the DAG's serialisation. The warm-up run (a rerun of the
first hour, which leaves every table as it was) takes that cost out of the timed runs.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime

from dev.dagtest import run_dag_test


def run(dag, logical_date) -> dict:
    started = time.perf_counter()
    dr = run_dag_test(dag, logical_date)
    seconds = time.perf_counter() - started
    failed = [ti.task_id for ti in dr.get_task_instances() if ti.state != "success"]
    if dr.state != "success":
        raise SystemExit(f"{dag.dag_id} {dr.run_id} failed: {failed}")
    return {"run_id": dr.run_id, "seconds": round(seconds, 3)}


def main(argv: list[str]) -> int:
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag().dags
    if argv[0] == "full":
        out = {"create_tables": run(dags["create_tables"], None), "full_load": run(dags["final_project"], None)}
    else:
        warm_up = argv[1] == "--warm-up"
        dates = [datetime.fromisoformat(h).replace(tzinfo=UTC) for h in argv[1 + warm_up :]]
        out = {"warm_up": run(dags["final_project"], dates[0])} if warm_up else {}
        out["hours"] = [run(dags["final_project"], d) for d in dates]
    print("BENCH " + json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
