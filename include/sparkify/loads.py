"""The reusable table load: a SELECT from include/sql/load/<table>.sql, wrapped in the
statements of a load mode and run as one transaction by SQLExecuteQueryOperator."""

from __future__ import annotations

from enum import Enum

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from include.sparkify import config


class LoadMode(str, Enum):
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


def quote(identifier: str) -> str:
    if identifier not in TABLES and identifier not in {key for key, _ in TABLES.values()}:
        raise ValueError(f"{identifier!r} is not a table or key of the Sparkify schema")
    return f'"{identifier}"'


def load_statements(table: str, mode: LoadMode | str, key: str | None = None) -> list[str]:
    """The statements of one load; the SELECT is included from load/<table>.sql at render time."""
    mode = LoadMode(mode)
    target = quote(table)
    select = "{% include 'load/" + table + ".sql' %}"
    if mode is LoadMode.TRUNCATE_INSERT:
        # DELETE, not TRUNCATE: TRUNCATE commits implicitly in Redshift.
        return [f"DELETE FROM {target}", f"INSERT INTO {target}\n{select}"]
    if mode is LoadMode.APPEND:
        return [f"INSERT INTO {target}\n{select}"]
    key = quote(key or TABLES[table][0])
    incoming = f'"incoming_{table}"'
    return [
        f"CREATE TEMP TABLE {incoming} AS\n{select}",
        f"DELETE FROM {target} USING {incoming} WHERE {target}.{key} = {incoming}.{key}",
        f"INSERT INTO {target} SELECT * FROM {incoming}",
        f"DROP TABLE {incoming}",
    ]


def load_table(task_id: str, table: str, mode: LoadMode | str | None = None, **kwargs) -> SQLExecuteQueryOperator:
    """A task that loads ``table`` in ``mode`` (its default mode if None) and emits its asset."""
    mode = LoadMode(mode or TABLES[table][1])
    return SQLExecuteQueryOperator(
        task_id=task_id,
        conn_id=config.REDSHIFT_CONN_ID,
        sql=load_statements(table, mode),
        autocommit=False,  # every statement of the load in one transaction
        split_statements=False,
        return_last=False,
        show_return_value_in_logs=False,
        outlets=[config.table_asset(table)],
        doc_md=f"Loads `{table}` ({mode.value}) from `include/sql/load/{table}.sql`.",
        **kwargs,
    )
