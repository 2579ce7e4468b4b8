"""Table loads: the **write** of write-audit-publish, and the analytics rebuilds.

A star-schema load (``load_table``) never touches the published tables. It runs the SELECT of
include/sql/load/<table>.sql and writes the rows into ``audit_<table>``, keyed by the run's id,
replacing that run's earlier audit rows (a rerun). ``Run_data_quality_checks`` audits them
(include/sparkify/quality.py) and ``Publish`` applies them (include/sparkify/publish.py).

``TableLoadOperator`` writes straight into a table: the analytics rebuilds of published data,
with the rows written, the interval and sources on the table's asset event (monitoring.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from airflow.providers.common.sql.hooks.handlers import fetch_all_handler
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from include.sparkify import config
from include.sparkify.monitoring import load_metadata
from include.sparkify.task_ids import STAGING_TASKS


class LoadMode(StrEnum):
    TRUNCATE_INSERT = "truncate-insert"  # replace the table: only where staging holds the whole source
    APPEND = "append"  # add the rows
    UPSERT = "upsert"  # delete the rows whose key is loaded again, then insert


# The star schema: each table's key, and the mode that keeps it right under hourly runs.
TABLES = {
    "songplays": ("songplay_id", LoadMode.UPSERT),
    "users": ("user_id", LoadMode.UPSERT),
    "songs": ("song_id", LoadMode.TRUNCATE_INSERT),
    "artists": ("artist_id", LoadMode.TRUNCATE_INSERT),
    "time": ("start_time", LoadMode.UPSERT),
}


# The staging tables each table is loaded from: the load pulls their staging tasks' results
# (task_ids.STAGING_TASKS) for its asset event's source objects.
STAGED_FROM = {
    "songplays": ("staging_events", "staging_songs"),
    "users": ("staging_events",),
    "songs": ("staging_songs",),
    "artists": ("staging_songs",),
    "time": ("staging_events",),
}

# What each statement of a mode does, in order: its row count is "deleted", "inserted" or neither.
STATEMENT_ROLES = {
    LoadMode.TRUNCATE_INSERT: (None, "deleted", "inserted"),
    LoadMode.APPEND: (None, "inserted"),
    LoadMode.UPSERT: (None, None, "deleted", "inserted", None),
}


def table_lock(target: str) -> str:
    """The first statement of every load: writers of a table take turns. Two overlapping
    delete-then-insert loads of the same keys would violate the primary key on PostgreSQL
    (seen: `songs_pkey`) and abort one with serializable-isolation error 1023 on Redshift,
    which AWS suggests avoiding by locking the tables a transaction writes. `LOCK TABLE t`
    is ACCESS EXCLUSIVE on both engines, held until the load commits.
    https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html and
    https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html"""
    return f"LOCK TABLE {target}"


def quote(identifier: str) -> str:
    """The identifier double-quoted, if it names a table (or a table's key) loads may write:
    the star schema's, their audit tables, catalog_loads and the analytics rollups."""
    known = {*TABLES, *map(audit_table, TABLES), *(key for key, _ in TABLES.values())}
    known |= {config.ANALYTICS_TABLE, config.MONTHLY_TABLE, CATALOG_LOADS}
    if identifier not in known:
        raise ValueError(f"{identifier!r} is not a table or key of the Sparkify schema")
    return f'"{identifier}"'


def audit_table(table: str) -> str:
    """Where a run's rows for ``table`` wait for their audit: ``audit_<table>``, the table's
    columns after a ``run_id`` (include/sql/ddl/audit_<table>.sql)."""
    return f"audit_{table}"


# Characters a run id may hold to be written as a SQL string literal: Airflow's own run ids
# (scheduled__2018-11-01T13:00:00+00:00, ...) and its default allowed_run_id_pattern.
_RUN_ID = re.compile(r"[A-Za-z0-9_.~:+-]{1,250}")


def sql_string(run_id: str) -> str:
    """``run_id`` as a SQL string literal (a template macro of final_project: the audit
    statements and checks name the run's rows with it). Refuses quotes and backslashes
    rather than escape them: Redshift and PostgreSQL read backslashes differently."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"run id {run_id!r} cannot name audit rows: use letters, digits and _.~:+- only")
    return f"CAST('{run_id}' AS VARCHAR(250))"


def sql_now() -> str:
    """Now (UTC) as a SQL timestamp literal, rendered by Airflow: one spelling for both
    engines (PostgreSQL has no GETDATE(); on Redshift NOW() runs on the leader node only)."""
    return f"TIMESTAMP '{datetime.now(UTC):%Y-%m-%d %H:%M:%S}'"


def sql_macros() -> dict:
    """The template macros of the load, check and publish SQL (a DAG's user_defined_macros)."""
    from include.sparkify.window import Window

    return {
        "run_window": Window.from_run,
        "rollup_window": Window.for_rollup,
        "sql_string": sql_string,
        "sql_now": sql_now,
    }


RUN_ID = "{{ sql_string(run_id) }}"  # the run's id as a SQL literal, in a template
RUN_ROWS = f"run_id = {RUN_ID}"  # the run's rows of an audit table


def load_statements(table: str, mode: LoadMode | str, key: str | None = None, sql_file: str | None = None) -> list[str]:
    """The statements of one load. The SELECT is included at render time from ``sql_file``
    (a path under include/sql/; default ``load/<table>.sql``)."""
    mode = LoadMode(mode)
    target = quote(table)
    select = "{% include '" + (sql_file or f"load/{table}.sql") + "' %}"
    if mode is LoadMode.TRUNCATE_INSERT:
        # DELETE, not TRUNCATE: TRUNCATE commits implicitly in Redshift.
        return [table_lock(target), f"DELETE FROM {target}", f"INSERT INTO {target}\n{select}"]
    if mode is LoadMode.APPEND:
        return [table_lock(target), f"INSERT INTO {target}\n{select}"]
    key = quote(key or TABLES[table][0])
    incoming = f'"incoming_{table}"'
    return [
        table_lock(target),
        f"CREATE TEMP TABLE {incoming} AS\n{select}",
        f"DELETE FROM {target} USING {incoming} WHERE {target}.{key} = {incoming}.{key}",
        f"INSERT INTO {target} SELECT * FROM {incoming}",
        f"DROP TABLE {incoming}",
    ]


# Tables rebuilt from the whole song catalog, only when it changed (include/sparkify/catalog.py).
CATALOG_TABLES = tuple(t for t, (_, mode) in TABLES.items() if mode is LoadMode.TRUNCATE_INSERT)
CATALOG_LOADS = "catalog_loads"


def audit_statements(table: str) -> list[str]:
    """The write of one table's load: the run's rows into ``audit_<table>``, replacing the
    rows an earlier try of the same run wrote there. The published table is not touched."""
    target, incoming = quote(audit_table(table)), f'"incoming_{table}"'
    select = "{% include 'load/" + table + ".sql' %}"
    return [
        # Runs (overlapping backfills) write the audit table in turns: see table_lock.
        table_lock(target),
        f"CREATE TEMP TABLE {incoming} AS\n{select}",
        f"DELETE FROM {target} WHERE {RUN_ROWS}",
        f"INSERT INTO {target} SELECT {RUN_ID}, i.* FROM {incoming} AS i",
        f"DROP TABLE {incoming}",
    ]


# The row count of each audit statement that is the write's figure.
AUDIT_ROLES = (None, None, "replaced", "written", None)


def rows_affected(cursor):  # a result handler
    """The rows of a query, or the rows a DML statement changed."""
    return fetch_all_handler(cursor) if cursor.description is not None else cursor.rowcount


class TableLoadOperator(SQLExecuteQueryOperator):
    """Runs a table's load statements in one transaction and reports, on the table's asset
    event and as its XCom, the rows deleted and inserted, the data interval and the sources."""

    def __init__(self, *, table: str, mode: LoadMode, sql: list[str], staged_from: Sequence[str] = (), **kwargs):
        super().__init__(
            sql=sql,
            conn_id=config.REDSHIFT_CONN_ID,
            autocommit=False,  # every statement of the load in one transaction
            split_statements=False,
            return_last=False,
            show_return_value_in_logs=False,
            handler=rows_affected,
            outlets=[config.table_asset(table)],
            **kwargs,
        )
        self.table = table
        self.mode = LoadMode(mode)
        self.staged_from = tuple(staged_from)

    def execute(self, context) -> dict:
        counts = super().execute(context)
        totals = {"inserted": 0, "deleted": 0}
        for role, count in zip(STATEMENT_ROLES[self.mode], counts):
            if role is not None:
                totals[role] += max(int(count), 0)
        staged = []
        if self.staged_from:
            staging_task_ids = [STAGING_TASKS[t] for t in self.staged_from]
            staged = [r for r in context["ti"].xcom_pull(task_ids=staging_task_ids) or [] if isinstance(r, dict)]
        metadata = load_metadata(
            self.table, self.mode.value, totals["inserted"], totals["deleted"], context.get("dag_run"), staged
        )
        context["outlet_events"][config.table_asset(self.table)].extra.update(metadata)
        self.log.info(
            "%s: %d rows deleted, %d inserted (%s load)",
            self.table,
            totals["deleted"],
            totals["inserted"],
            metadata["load"],
        )
        return metadata


class AuditWriteOperator(SQLExecuteQueryOperator):
    """Writes one table's rows of the run into its audit table, in one transaction. Its
    XCom: the rows written, and the rows of an earlier try of the run they replaced."""

    roles = AUDIT_ROLES

    def __init__(self, *, table: str, sql: list[str] | None = None, **kwargs):
        super().__init__(
            sql=sql or audit_statements(table),
            conn_id=config.REDSHIFT_CONN_ID,
            autocommit=False,
            split_statements=False,
            return_last=False,
            show_return_value_in_logs=False,
            handler=rows_affected,
            **kwargs,
        )
        self.table = table

    def execute(self, context) -> dict:
        counts = super().execute(context)
        figures = {role: max(int(n), 0) for role, n in zip(self.roles, counts) if role is not None}
        self.log.info(
            "%s: %d rows written to %s for audit (%d of an earlier try replaced)",
            self.table,
            figures["written"],
            audit_table(self.table),
            figures["replaced"],
        )
        return {"table": self.table, "audit_table": audit_table(self.table), **figures}


def load_table(task_id: str, table: str, **kwargs) -> AuditWriteOperator:
    """A task that writes the run's rows of ``table`` into ``audit_<table>`` (nothing is
    published until the run's checks pass: include/sparkify/publish.py)."""
    mode = TABLES[table][1]
    return AuditWriteOperator(
        task_id=task_id,
        table=table,
        doc_md=f"Writes the run's `{table}` rows (`include/sql/load/{table}.sql`) into `{audit_table(table)}`; "
        f"`Publish` applies them to `{table}` ({mode.value}) once the checks pass.",
        **kwargs,
    )
