"""Catalog loads: ``songs`` and ``artists`` are rewritten only when the song catalog changed.

Both are rebuilt from the whole staged catalog (``staging_songs``), so rewriting them costs
what the catalog costs, and an hourly run that rewrote them every hour would grow with the
catalog forever (issue 14). ``Stage_songs`` already keeps an unchanged catalog staged
(``staging_manifest``: the fingerprint of the objects it staged). This module adds the other
half: ``catalog_loads`` records, per run, the staged catalog each catalog table's audit rows
were read from, and ``Publish`` marks it published. A run's write of a catalog table
(``CatalogWriteOperator``) then:

* writes nothing when the staged catalog is the one of the table's last published load, and
  ``Publish`` leaves the table as it is (it replaces a catalog table only for a run that
  wrote it: include/sparkify/publish.py);
* rewrites it otherwise: a catalog restaged by this run or by another one, or one whose
  earlier load was never published (its checks failed);
* always rewrites it on a full load, or when the run's ``restage_songs`` param is set.

The checks of a run that did not rewrite the catalog read none of it
(include/sparkify/quality.py)."""

from __future__ import annotations

from include.sparkify.loads import (
    AUDIT_ROLES,
    CATALOG_LOADS,
    CATALOG_TABLES,
    RUN_ID,
    RUN_ROWS,
    AuditWriteOperator,
    audit_statements,
    audit_table,
    quote,
    table_lock,
)

# The staging table the catalog tables are read from, as named in staging_manifest.
CATALOG_STAGING_TABLE = "staging_songs"


def state_statement(table: str) -> str:
    """The staged catalog's fingerprint, the one ``table``'s last published load read, and the
    run that published it (include/sql/load/catalog_state.sql)."""
    if table not in CATALOG_TABLES:
        raise ValueError(f"{table!r} is not a catalog table: {CATALOG_TABLES}")
    return "{% set catalog_table = '" + table + "' %}{% include 'load/catalog_state.sql' %}"


def record_statements(table: str) -> list[str]:
    """After the audit rows: the staged catalog they were read from, in ``catalog_loads``
    (unpublished until ``Publish`` sets published_at), replacing an earlier try's row."""
    if table not in CATALOG_TABLES:
        raise ValueError(f"{table!r} is not a catalog table: {CATALOG_TABLES}")
    return [
        # Locked after the audit table, as Publish does (publish.LOCK_ORDER): the writes of
        # songs and artists and other runs' publishes take turns on catalog_loads rather
        # than abort with Redshift's serializable-isolation error 1023
        # (https://docs.aws.amazon.com/redshift/latest/dg/c_serial_isolation.html).
        table_lock(quote(CATALOG_LOADS)),
        f"DELETE FROM {CATALOG_LOADS} WHERE {RUN_ROWS} AND loaded_table = '{table}'",
        f"INSERT INTO {CATALOG_LOADS} (run_id, loaded_table, fingerprint, written_at)\n"
        f"SELECT {RUN_ID}, CAST('{table}' AS VARCHAR(64)), fingerprint, {{{{ sql_now() }}}}\n"
        f"FROM staging_manifest WHERE staging_table = '{CATALOG_STAGING_TABLE}'",
    ]


class CatalogWriteOperator(AuditWriteOperator):
    """The write of a catalog table: its audit rows and its ``catalog_loads`` row, in one
    transaction, or nothing when the staged catalog is the one already published."""

    roles = (None, *AUDIT_ROLES, None, None, None)  # the state query first, the record last

    def __init__(self, *, table: str, **kwargs):
        sql = [state_statement(table), *audit_statements(table), *record_statements(table)]
        super().__init__(table=table, sql=sql, **kwargs)

    def execute(self, context) -> dict:
        state, *write = self.sql  # rendered by now: the state query, then the write
        unchanged = self.unchanged(state, context)
        if unchanged is not None:
            return unchanged
        self.sql = write
        self.roles = self.roles[1:]
        return super().execute(context)

    def unchanged(self, state_sql: str, context) -> dict | None:
        """The task's result when the table need not be rewritten, else None."""
        from include.sparkify.window import Window

        if Window.from_run(context.get("dag_run")).full or (context.get("params") or {}).get("restage_songs"):
            self.log.info("%s: a full load or restage_songs: rewriting it from the staged catalog.", self.table)
            return None
        staged, published, published_by = self.get_db_hook().get_first(state_sql) or (None, None, None)
        if staged is None or staged != published:
            self.log.info(
                "%s: the staged catalog (%s) is not the one last published (%s, by %s): rewriting it.",
                self.table,
                staged,
                published,
                published_by,
            )
            return None
        self.log.info(
            "%s: the staged catalog (%s) is the one %s published: nothing to rewrite, and Publish leaves %s as it is.",
            self.table,
            staged,
            published_by,
            self.table,
        )
        return {
            "table": self.table,
            "audit_table": audit_table(self.table),
            "replaced": 0,
            "written": 0,
            "catalog": "unchanged",
            "fingerprint": staged,
        }


def load_catalog_table(task_id: str, table: str, **kwargs) -> CatalogWriteOperator:
    """A task that writes the run's rows of the catalog table ``table`` into ``audit_<table>``
    when the staged catalog changed since its last published load."""
    return CatalogWriteOperator(
        task_id=task_id,
        table=table,
        doc_md=f"Writes `{table}` (`include/sql/load/{table}.sql`) into `{audit_table(table)}` when the staged "
        f"song catalog changed since `{table}` was last published (`catalog_loads`); otherwise writes nothing and "
        f"`Publish` leaves `{table}` as it is.",
        **kwargs,
    )
