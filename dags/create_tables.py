"""
### create_tables

Brings the Sparkify warehouse schema to the newest version: the staging tables, the star
schema (`songplays`, `users`, `songs`, `artists`, `time`) and its `audit_*` twins (write,
audit, publish), the bookkeeping tables (`staging_manifest`, `staging_rejects`,
`staging_drift`, `catalog_loads`, `load_volumes`), the data-quality history (`dq_history`)
and the analytics tables (`daily_listening`, `monthly_listening`); one file per table in
`include/sql/ddl/`.

**How.** `Create_tables` applies the versioned migrations of `include/sql/migrations/`
(`0001_initial.sql`, `0002_…`) that the warehouse has not applied yet, in order, each in its
own transaction, and records each in the table `schema_migrations` (version, file, SHA-256,
when, this run's id). An applied migration that was edited since fails the task before
anything is applied. A warehouse built by a release before the migrations (tables there,
no `schema_migrations`) is adopted: the migrations it already has are recorded as applied
("baseline") without running them. Running the DAG again is safe: with nothing pending it
changes nothing. The runner is `include/sparkify/migrations.py`; the current schema, one
readable file per table, is `include/sql/ddl/` (a test keeps it equal to the migrations).

**When it emits the schema asset.** `Stop_execution` emits **sparkify_warehouse_schema**,
which triggers a `final_project` full load, only when this run changed the schema: a
migration was applied or a warehouse was adopted. The event's extra carries
`{"schema_version": N, "applied": [files], "baselined": [files]}`. When nothing was
pending, `Stop_execution` is skipped and emits nothing, so rerunning `create_tables` never
reloads everything. For a full load on demand, trigger `final_project` by hand without a
logical date.

It runs once when first unpaused (`@once`), and whenever triggered by hand: after a
deployment that adds a migration (see docs/operations.md, *Schema migrations*).
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import BaseHook, chain, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from include.sparkify import config, task_ids as ids
from include.sparkify.dag_defaults import DEFAULT_ARGS
from include.sparkify.migrations import apply_migrations


@dag(
    dag_id=ids.CREATE_TABLES_DAG,
    schedule="@once",
    start_date=config.START_DATE,
    catchup=False,
    max_active_runs=1,  # one migration runner at a time
    default_args=DEFAULT_ARGS,
    tags=["sparkify", "redshift", "ddl"],
    doc_md=__doc__,
)
def create_tables():
    begin = EmptyOperator(task_id=ids.BEGIN)

    @task(task_id=ids.CREATE_TABLES, multiple_outputs=False)  # the dict alone, not one XCom per key
    def migrate(run_id: str | None = None) -> dict:
        """Applies the pending migrations; returns the schema version and what changed."""
        conn = BaseHook.get_connection(config.REDSHIFT_CONN_ID).get_hook().get_conn()
        try:
            return apply_migrations(conn, run_id=run_id)
        finally:
            conn.close()

    @task(task_id=ids.STOP, outlets=[config.SCHEMA_READY])
    def announce(result: dict, outlet_events=None) -> None:
        """Emits the schema asset only when the schema changed (see the DAG's doc)."""
        if not result["applied"] and not result["baselined"]:
            raise AirflowSkipException(f"The schema is already at version {result['version']}: no asset event.")
        outlet_events[config.SCHEMA_READY].extra = {
            "schema_version": result["version"],
            "applied": result["applied"],
            "baselined": result["baselined"],
        }

    migrated = migrate()
    chain(begin, migrated, announce(migrated))


create_tables()
