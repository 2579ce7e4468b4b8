"""The Redshift engine: a server-side ``COPY ... FROM 's3://...'`` per load, executed by
Redshift (logs through the jsonpaths file, songs with ``JSON 'auto'``). Lines COPY
refuses (up to MAXERROR) and rows that break a staging rule land in staging_rejects."""

from __future__ import annotations

import json
import logging
import re
import time

from include.sparkify import config, varchar
from include.sparkify.staging.drift import from_key_counts as drift_summary
from include.sparkify.staging.engine import Engine
from include.sparkify.staging.objects import S3Object, read_jsonpaths
from include.sparkify.staging.sources import RULES, SOURCES, StageResult, StagingError
from include.sparkify.staging.statements import column, render

log = logging.getLogger(__name__)

# Lines Redshift refused are counted against MAXERROR and listed in SYS_LOAD_ERROR_DETAIL;
# they are copied into staging_rejects so both engines report rejects the same way.
MAXERROR = 100000
ACCOUNTING_ATTEMPTS = 5
ACCOUNTING_WAIT_SECONDS = 2.0
REJECT_BATCH = 500  # refused lines written to staging_rejects per statement
RAW_RECORDS = "raw_records"  # a load's records whole, for counting schema drift (drift.py)


def _quote(value: str) -> str:
    return value.replace("'", "''")


def copy_statement(
    table: str,
    manifest_uri: str,
    jsonpaths_uri: str | None,
    credentials: str,
    region: str,
    columns: list[str] | None = None,
    whole_records: bool = False,
) -> str:
    """The COPY Redshift runs for one manifest (credentials as given: pass a redacted clause to
    log it). ``whole_records``: each record whole into the one SUPER column of RAW_RECORDS
    (``JSON 'noshred'``: https://docs.aws.amazon.com/redshift/latest/dg/ingest-super.html)."""
    json_option = "'noshred'" if whole_records else f"'{_quote(jsonpaths_uri)}'" if jsonpaths_uri else "'auto'"
    if whole_records != (table == RAW_RECORDS) or (
        not whole_records and table.removeprefix("incoming_") not in SOURCES  # a staging table, or its copy
    ):
        raise StagingError(f"unknown staging table {table!r}")
    column_list = f" ({', '.join(column(c) for c in columns)})" if columns else ""
    return (
        f"COPY {table}{column_list} FROM '{_quote(manifest_uri)}' {credentials} "
        f"FORMAT AS JSON {json_option} REGION '{_quote(region)}' "
        f"MANIFEST MAXERROR {MAXERROR} COMPUPDATE OFF STATUPDATE OFF"
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

    def __enter__(self):
        super().__enter__()
        self.accounted: set = set()  # SYS query ids of the COPYs whose refused lines are in staging_rejects
        self.execute("redshift/session")
        return self

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        cur = self.conn.cursor()
        cur.paramstyle = "pyformat"  # %(name)s, as include/sql/staging renders parameters
        try:
            cur.execute(sql, params)
            self.rowcount = cur.rowcount
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def credentials(self) -> tuple[str, str]:
        """The COPY authorization clause, and the same clause as it may be logged: the COPY
        role (SPARKIFY_REDSHIFT_IAM_ROLE), else the AWS connection's own credentials. A
        role_arn in the connection's extra is the role Airflow assumes (the hook uses it to
        list S3 too), so it is not taken for the COPY role: that role trusts Redshift."""
        if config.REDSHIFT_IAM_ROLE:
            clause = f"IAM_ROLE '{_quote(config.REDSHIFT_IAM_ROLE)}'"
            return clause, clause
        from airflow.providers.amazon.aws.utils.redshift import build_credentials_block

        block = build_credentials_block(self.s3_hook.get_credentials())
        return f"CREDENTIALS '{_quote(block)}'", "CREDENTIALS '***'"

    def columns(self) -> list[str]:
        return [column(r[0]) for r in self.execute("redshift/table_columns")]

    def write_manifest(self, objects: list[S3Object], number: int) -> str:
        """A COPY manifest listing exactly ``objects`` (each mandatory: a missing one fails
        the COPY, and so the task, rather than loading less), written to the bucket; its URI.
        COPY FROM a key loads every object whose key starts with it, so a COPY never reads a
        bare key or prefix (https://docs.aws.amazon.com/redshift/latest/dg/loading-data-files-using-manifest.html)."""
        run = self.run
        safe_run = re.sub(r"[^A-Za-z0-9_.+-]", "_", run.run_id)
        key = f"{config.MANIFEST_PREFIX}/{run.table}/{safe_run}/{number:05d}.manifest"
        body = {"entries": [{"url": run.uri(o.key), "mandatory": True} for o in objects]}
        self.s3.put_object(Bucket=run.bucket, Key=key, Body=json.dumps(body, indent=1).encode())
        return run.uri(key)

    def load(self, objects: list[S3Object], result: StageResult) -> None:
        """One COPY through one manifest for the whole load, or one per object where rows
        must carry their object's key (an hourly load of the logs: COPY does not say which
        object a row came from). A full load's log rows carry the prefix instead."""
        run, source = self.run, self.run.source
        clause, logged_clause = self.credentials()
        jsonpaths = run.uri(source.jsonpaths_key) if source.jsonpaths_key else None
        columns = None
        if source.keyed:  # COPY fills the data columns; source_key is set from what was copied
            columns = [c for c in self.columns() if c != "source_key"]
        per_object = source.keyed and run.partitions() is not None
        target = f"incoming_{source.table}" if per_object else source.table
        batches = [[o] for o in objects] if per_object else ([objects] if objects else [])
        if per_object:
            self.query(f"CREATE TEMP TABLE {target} (LIKE {source.table})")
        for number, batch in enumerate(batches):
            manifest = self.write_manifest(batch, number)
            log.info(
                "Running: %s", copy_statement(target, manifest, jsonpaths, logged_clause, config.S3_REGION, columns)
            )
            self.query(copy_statement(target, manifest, jsonpaths, clause, config.S3_REGION, columns))
            copied = int(self.query("SELECT PG_LAST_COPY_COUNT()")[0][0])
            self.account_for_refused_lines(manifest, copied)
            result.rows += copied
            if per_object:
                self.execute("redshift/keep_incoming", {"key": batch[0].key}, columns=", ".join(columns))
                self.query(f"DELETE FROM {target}")
        if source.keyed and not per_object:
            self.query(
                f"UPDATE {source.table} SET source_key = %(tag)s WHERE source_key IS NULL", {"tag": source.prefix_tag}
            )
        if per_object:
            self.query(f"DROP TABLE {target}")
        self.drift_manifest_number = len(batches)  # count_drift's manifest, after the load's
        result.rows -= self.apply_rules()
        result.objects = len(objects)
        result.bytes = sum(o.size for o in objects)
        result.rejected = self.rejected()
        result.records = result.rows + result.rejected

    def after_commit(self, objects: list[S3Object], result: StageResult) -> None:
        """Count the load's schema drift (drift.py) in a transaction of its own, once the load
        committed: the count is a warning, so its failure (an object gone since, S3 refusing)
        is logged and never undoes the staging (Redshift has no savepoints)."""
        if not objects:
            return
        try:
            result.drift = self.count_drift(objects, self.drift_manifest_number)
            self.record_drift(result.drift)
            self.commit()
        except Exception as exc:  # noqa: BLE001 - any failure: the staging stands, the count is lost
            self.conn.rollback()
            result.drift = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            log.warning("%s: schema drift not counted: %s", self.run.table, result.drift["error"])

    def count_drift(self, objects: list[S3Object], number: int) -> dict:
        """Schema drift of the load: its records loaded whole into a SUPER column by a second
        COPY of the same objects, and the records carrying each key counted. That COPY
        refuses only what is not JSON (a value of the wrong type is a record here), so its
        count can exceed the rows the load staged."""
        run, source = self.run, self.run.source
        clause, logged_clause = self.credentials()
        manifest = self.write_manifest(objects, number)
        self.query(f"CREATE TEMP TABLE {RAW_RECORDS} (doc SUPER)")
        log.info(
            "Running: %s", copy_statement(RAW_RECORDS, manifest, None, logged_clause, config.S3_REGION, None, True)
        )
        self.query(copy_statement(RAW_RECORDS, manifest, None, clause, config.S3_REGION, None, True))
        records = int(self.query("SELECT PG_LAST_COPY_COUNT()")[0][0])
        present = {key: int(n) for key, n in self.execute("redshift/drift_keys")}
        self.query(f"DROP TABLE {RAW_RECORDS}")
        if source.jsonpaths_key:
            mapped = [path[0] for path in read_jsonpaths(self.s3, run.bucket, source.jsonpaths_key)]
        else:  # JSON 'auto': keys match the column names
            mapped = [c for c in self.columns() if c != "source_key"]
        return drift_summary(records, present, mapped)

    def account_for_refused_lines(self, manifest: str, copied: int) -> int:
        """Copy the lines the last COPY refused into staging_rejects, and prove none is lost:
        the refused count SYS_LOAD_HISTORY gives (error_count) must equal the lines
        SYS_LOAD_ERROR_DETAIL lists and the rows written. The SYS views may lag the COPY a
        little, so they are read a few times before the task fails with the numbers (rolled
        back: nothing staged, the retry loads again)."""
        history, errors = None, []
        for attempt in range(ACCOUNTING_ATTEMPTS):
            if attempt:
                time.sleep(ACCOUNTING_WAIT_SECONDS)
            rows = self.execute("redshift/copy_history")
            if not rows or rows[0][0] in self.accounted or rows[0][2] is None or int(rows[0][1] or 0) != copied:
                continue  # not recorded yet: the latest row is an earlier COPY's
            history = rows[0]
            errors = self.execute("redshift/copy_errors", {"query_id": history[0]})
            if len(errors) == int(history[2]):
                break
        if history is None:
            raise StagingError(
                f"{self.run.table}: the COPY of {manifest} loaded {copied} rows but SYS_LOAD_HISTORY has no record of "
                f"it for this session after {ACCOUNTING_ATTEMPTS} reads: its refused lines cannot be accounted for. "
                "Nothing was staged; the retry loads again."
            )
        refused = int(history[2])
        self.accounted.add(history[0])
        written = self.insert_reject_rows(errors)
        if not refused == len(errors) == written:
            raise StagingError(
                f"{self.run.table}: the COPY of {manifest} refused {refused} lines (SYS_LOAD_HISTORY.error_count, "
                f"query {history[0]}) but SYS_LOAD_ERROR_DETAIL lists {len(errors)} and {written} were written to "
                "staging_rejects. Nothing was staged; the retry loads again."
            )
        return refused

    def insert_reject_rows(self, rows: list[tuple]) -> int:
        """Write (source_key, line_number, reason) rows to staging_rejects; returns how many."""
        written = 0
        for start in range(0, len(rows), REJECT_BATCH):
            batch = rows[start : start + REJECT_BATCH]
            params = {}
            for i, (key, line, reason) in enumerate(batch):
                params |= {f"key_{i}": key, f"line_{i}": int(line), f"reason_{i}": varchar.fit(reason or "", 1024)}
            self.insert_rejects(f"({render('redshift/reject_rows', rows=len(batch))[0]})", params)
            written += self.rowcount
        return written

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
