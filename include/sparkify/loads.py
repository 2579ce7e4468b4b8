"""The reusable table load: a SELECT from include/sql/load/<table>.sql, wrapped in the
statements of a load mode and run as one transaction by SQLExecuteQueryOperator.

Each load counts the rows it deleted and inserted and puts them, with the run's data
interval and the S3 objects staged for it, on its table's asset event (see
include/sparkify/monitoring.py)."""

from __future__ import annotations

from collections.abc import Sequence
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
    """The first statement of every load: writers of a table take turns. Overlapping backfill
    runs load the same tables; two concurrent delete-then-insert loads of the same keys would
    violate the primary key on PostgreSQL (seen: `songs_pkey`, two runs rebuilding `songs`) and
    abort one of them with serializable-isolation error 1023 on Redshift, which AWS suggests
    avoiding by locking the tables a transaction writes. `LOCK TABLE t` means ACCESS EXCLUSIVE
    on both engines, held until the load commits (a load takes a second or two; readers wait
    that long). https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html and
    https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html"""
    return f"LOCK TABLE {target}"


def quote(identifier: str) -> str:
    """The identifier double-quoted, if it names a table (or a table's key) loads may write:
    the star schema's and the analytics table."""
    known = {*TABLES, *(key for key, _ in TABLES.values()), config.ANALYTICS_TABLE}
    if identifier not in known:
        raise ValueError(f"{identifier!r} is not a table or key of the Sparkify schema")
    return f'"{identifier}"'


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


def rows_affected(cursor):
    """Result handler: the rows of a query, or the rows a DML statement changed."""
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


def load_table(task_id: str, table: str, mode: LoadMode | str | None = None, **kwargs) -> TableLoadOperator:
    """A task that loads ``table`` in ``mode`` (its default mode if None) and emits its asset."""
    mode = LoadMode(mode or TABLES[table][1])
    return TableLoadOperator(
        task_id=task_id,
        table=table,
        mode=mode,
        sql=load_statements(table, mode),
        staged_from=STAGED_FROM.get(table, ()),
        doc_md=f"Loads `{table}` ({mode.value}) from `include/sql/load/{table}.sql`; its asset event "
        "records rows deleted and inserted, the data interval and the source objects.",
        **kwargs,
    )
