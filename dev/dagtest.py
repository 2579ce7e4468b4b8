"""`dag.test()` for the tests and benchmarks, around one Airflow 3.3 limitation.

`dag.test()` runs the DAG object as parsed, not as serialized. When a run succeeds,
`DagRun.update_state` looks up the DAG's deadline alerts by the ids the serialized DAG
would hold, and gets DeadlineAlert objects instead ("'dict' object has no attribute
'hex'"), so every successful `dag.test()` of a DAG with a `deadline` errors. Deadlines are
the scheduler's business (tests/test_monitoring_scheduler.py checks one fires there), so
this runs the test without the deadline and puts it back afterwards.
"""

from __future__ import annotations


def run_dag_test(dag, logical_date=None, run_conf: dict | None = None):
    """``dag.test(logical_date=..., run_conf=...)`` without the DAG's deadline alert; returns the DagRun."""
    deadline = dag.deadline
    dag.deadline = None
    try:
        return dag.test(logical_date=logical_date, run_conf=run_conf)
    finally:
        dag.deadline = deadline
