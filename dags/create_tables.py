"""
### create_tables

Creates the Sparkify warehouse schema: the staging tables, the star schema
(`songplays`, `users`, `songs`, `artists`, `time`) and the bookkeeping tables
(`staging_manifest`, `staging_rejects`), the data-quality history (`dq_history`) and the
analytics table (`daily_listening`). Every statement is idempotent
(`CREATE TABLE IF NOT EXISTS`), so the DAG can run again at any time.

It runs once when first unpaused, and whenever triggered by hand. On success it
emits the **sparkify_warehouse_schema** asset, which triggers `final_project` to do
a full load of everything in the bucket.

The DDL lives in `include/sql/ddl/`, one file per table.
"""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import chain, dag

from include.sparkify import config
from include.sparkify.alerts import DEFAULT_ARGS

# Every CREATE TABLE in include/sql/ddl/ (the warehouse, bookkeeping, dq_history, analytics).
DDL = sorted(path.stem for path in (config.SQL_DIR / "ddl").glob("*.sql"))


@dag(
    dag_id="create_tables",
    schedule="@once",
    start_date=config.START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(config.SQL_DIR)],
    tags=["sparkify", "redshift", "ddl"],
    doc_md=__doc__,
)
def create_tables():
    begin = EmptyOperator(task_id="Begin_execution")

    create = SQLExecuteQueryOperator(
        task_id="Create_tables",
        conn_id=config.REDSHIFT_CONN_ID,
        sql=[f"ddl/{table}.sql" for table in DDL],
        autocommit=False,
        split_statements=False,
        return_last=False,
        show_return_value_in_logs=False,
    )

    stop = EmptyOperator(task_id="Stop_execution", outlets=[config.SCHEMA_READY])

    chain(begin, create, stop)


create_tables()
