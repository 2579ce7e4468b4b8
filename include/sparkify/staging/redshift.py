"""The Redshift engine: a server-side ``COPY ... FROM 's3://...'`` per load, executed by
Redshift (logs through the jsonpaths file, songs with ``JSON 'auto'``). Lines COPY
refuses (up to MAXERROR) and rows that break a staging rule land in staging_rejects."""

from __future__ import annotations

import logging

from include.sparkify import config
from include.sparkify.staging.engine import Engine
from include.sparkify.staging.objects import S3Object
from include.sparkify.staging.sources import EVENTS, RULES, SOURCES, StageResult, StagingError
from include.sparkify.staging.statements import column, render

log = logging.getLogger(__name__)

# Lines Redshift refused are counted against MAXERROR and listed in SYS_LOAD_ERROR_DETAIL;
# they are copied into staging_rejects so both engines report rejects the same way.
MAXERROR = 100000


def _quote(value: str) -> str:
    return value.replace("'", "''")


def copy_statement(
    table: str,
    s3_uri: str,
    jsonpaths_uri: str | None,
    credentials: str,
    region: str,
    columns: list[str] | None = None,
) -> str:
    """The COPY Redshift runs for one staging load (credentials as given: pass a redacted clause to log it)."""
    json_option = f"'{_quote(jsonpaths_uri)}'" if jsonpaths_uri else "'auto'"
    if table.removeprefix("incoming_") not in SOURCES:  # a staging table, or its incoming_ copy
        raise StagingError(f"unknown staging table {table!r}")
    column_list = f" ({', '.join(column(c) for c in columns)})" if columns else ""
    return (
        f"COPY {table}{column_list} FROM '{_quote(s3_uri)}' {credentials} "
        f"FORMAT AS JSON {json_option} REGION '{_quote(region)}' "
        f"MAXERROR {MAXERROR} COMPUPDATE OFF STATUPDATE OFF"
    )


class RedshiftEngine(Engine):
    """COPY from S3, executed by Redshift."""

    name = "redshift"
    now = "GETDATE()"

    def connect(self):
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        conn = RedshiftSQLHook(redshift_conn_id=self.run.redshift_conn_id).get_conn()
        conn.autocommit = False
        return conn

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        cur = self.conn.cursor()
        cur.paramstyle = "pyformat"  # %(name)s, as include/sql/staging renders parameters
        try:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def credentials(self) -> tuple[str, str]:
        """The COPY authorization clause, and the same clause as it may be logged."""
        role = config.REDSHIFT_IAM_ROLE or self.s3_hook.get_connection(self.s3_hook.aws_conn_id).extra_dejson.get(
            "role_arn", ""
        )
        if role:
            clause = f"IAM_ROLE '{_quote(role)}'"
            return clause, clause
        from airflow.providers.amazon.aws.utils.redshift import build_credentials_block

        block = build_credentials_block(self.s3_hook.get_credentials())
        return f"CREDENTIALS '{_quote(block)}'", "CREDENTIALS '***'"

    def columns(self) -> list[str]:
        return [column(r[0]) for r in self.execute("redshift/table_columns")]

    def load(self, objects: list[S3Object], result: StageResult) -> None:
        run, source = self.run, self.run.source
        clause, logged_clause = self.credentials()
        if source is EVENTS and not run.window.full:
            uris = [run.uri(o.key) for o in objects]
        else:
            uris = [run.uri(source.prefix_tag)] if objects else []
        jsonpaths = run.uri(source.jsonpaths_key) if source.jsonpaths_key else None
        columns = None
        if source.keyed:  # COPY fills the data columns; source_key is set from what was copied
            columns = [c for c in self.columns() if c != "source_key"]
        per_object = source.keyed and not run.window.full
        target = f"incoming_{source.table}" if per_object else source.table
        if per_object:
            self.query(f"CREATE TEMP TABLE {target} (LIKE {source.table})")
        for uri in uris:
            statement = copy_statement(target, uri, jsonpaths, clause, config.S3_REGION, columns)
            log.info("Running: %s", copy_statement(target, uri, jsonpaths, logged_clause, config.S3_REGION, columns))
            self.query(statement)
            copied, query_id = self.query("SELECT pg_last_copy_count(), pg_last_copy_id()")[0]
            result.rows += int(copied)
            self.insert_rejects(f"({render('redshift/copy_errors')[0]})", {"query_id": int(query_id)})
            if per_object:
                self.execute("redshift/keep_incoming", {"key": uri.split("/", 3)[3]}, columns=", ".join(columns))
                self.query(f"DELETE FROM {target}")
        if source.keyed and not per_object:
            self.query(
                f"UPDATE {source.table} SET source_key = %(tag)s WHERE source_key IS NULL", {"tag": source.prefix_tag}
            )
        if per_object:
            self.query(f"DROP TABLE {target}")
        result.rows -= self.apply_rules()
        result.objects = len(objects)
        result.bytes = sum(o.size for o in objects)
        result.rejected = self.rejected()
        result.records = result.rows + result.rejected

    def apply_rules(self) -> int:
        """Move staged rows that break a rule into staging_rejects; returns how many moved."""
        table = self.run.table
        row_text = " || ' | ' || ".join(f"'{c}=' || NVL(CAST({c} AS VARCHAR), 'null')" for c in self.columns()) or "''"
        moved = 0
        for cond, _, reason in RULES[table]:
            where = cond.replace("{r}", "")
            rejects = render("redshift/rule_rejects", table=table, row_text=row_text, rule=where)[0]
            self.insert_rejects(
                f"({rejects})", {"source_key": f"{self.run.uri(self.run.source.prefix)}/ (COPY)", "reason": reason}
            )
            moved += int(self.query(f"SELECT COUNT(*) FROM {table} WHERE {where}")[0][0])
            self.query(f"DELETE FROM {table} WHERE {where}")
        return moved
