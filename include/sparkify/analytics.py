"""The analytics tables the downstream DAG builds from the star schema: each one a SELECT
in include/sql/analytics/<table>.sql, rebuilt whole (a truncate-insert load: DELETE +
INSERT in one transaction) by the same load operator as the star schema, so its asset
event carries the row counts."""

from __future__ import annotations

from include.sparkify.loads import LoadMode, TableLoadOperator, load_statements
from include.sparkify.task_ids import QUALITY_GATE


def build_table(task_id: str, table: str, **kwargs) -> TableLoadOperator:
    """A task that rebuilds the analytics table ``table`` and emits its asset."""
    return TableLoadOperator(
        task_id=task_id,
        table=table,
        mode=LoadMode.TRUNCATE_INSERT,
        sql=load_statements(table, LoadMode.TRUNCATE_INSERT, sql_file=f"analytics/{table}.sql"),
        doc_md=f"Rebuilds `{table}` from `include/sql/analytics/{table}.sql`.",
        **kwargs,
    )


def upstream_runs(triggering_asset_events) -> dict[str, set[str]]:
    """dag_id -> run ids of the runs whose asset events triggered this run."""
    runs: dict[str, set[str]] = {}
    for events in (triggering_asset_events or {}).values():
        for event in events:
            if getattr(event, "source_dag_id", None) and getattr(event, "source_run_id", None):
                runs.setdefault(event.source_dag_id, set()).add(event.source_run_id)
    return runs


def quality_gate_passed(ti, triggering_asset_events) -> bool:
    """True once the final_project runs that triggered this run have passed their data-quality
    checks (their Stop_execution succeeded); raises if one of them failed. A run not triggered
    by final_project (e.g. manual) has nothing to wait for."""
    from airflow.sdk.exceptions import AirflowFailException

    dag_id, gate = QUALITY_GATE
    run_ids = sorted(upstream_runs(triggering_asset_events).get(dag_id, ()))
    if not run_ids:
        return True
    states = ti.get_task_states(dag_id=dag_id, task_ids=[gate], run_ids=run_ids)
    pending = []
    for run_id in run_ids:
        state = (states.get(run_id) or {}).get(gate)
        if state in ("failed", "upstream_failed", "skipped", "removed"):
            raise AirflowFailException(
                f"{dag_id} run {run_id} did not pass its data-quality checks ({gate}: "
                f"{state}): the analytics are not rebuilt from its data"
            )
        if state != "success":
            pending.append(f"{run_id} ({state or 'not started'})")
    if pending:
        print(f"Waiting for the data-quality checks of {dag_id}: {', '.join(pending)}")
    return not pending
