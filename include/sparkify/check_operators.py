"""The provider's SQL check operators as this project runs them (include/sparkify/quality.py
says what is checked): every result recorded in ``dq_history`` (``RecordedCheck``), each
under the name and the table it is about, and a failure message that names them.

A task instance costs about half a CPU-second of scheduler, API server, worker and task
process on the local stack (docs/benchmarks.md), and its own start-up on Astro, for checks
that take a few milliseconds each; the audit was 13 of an hourly run's 23 task instances.
So one task runs many checks of one kind, each check keeping its own name, table and result:

* ``TableCheck``: SQLTableCheckOperator, whose checks may be about different tables
  (``check_tables``);
* ``ColumnChecks``: SQLColumnCheckOperator over several relations at once, its
  ``column_mapping`` keyed ``<table>.<column>``;
* ``RelationalChecks``: SQLCheckOperator over several queries, one file each
  (``SQLChecksOperator``).
"""

from __future__ import annotations

import copy

from airflow.providers.common.sql.hooks.handlers import fetch_one_handler
from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLCheckResult,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)

from include.sparkify.monitoring import RecordedCheck


class TableCheck(RecordedCheck, SQLTableCheckOperator):
    """SQLTableCheckOperator whose results are recorded in dq_history. ``check_tables``: the
    table each check is about, when one task checks several (else the operator's ``table``)."""

    def __init__(self, *, check_tables: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.check_tables = check_tables or {}

    def _build_check_results(self, records):
        results = super()._build_check_results(records)
        for result in results:
            result.table = self.check_tables.get(result.name, result.table)
        return results


class ColumnChecks(RecordedCheck, SQLColumnCheckOperator):
    """SQLColumnCheckOperator over several relations in one query. ``relations`` maps each
    table to the relation its checks read and an optional WHERE clause (the run's rows,
    say); ``column_mapping`` is the provider's, keyed ``<table>.<column>``. Each check is
    the provider's check statement on its table's relation, and is recorded for that table
    as ``<column>.<check>``, as a one-table SQLColumnCheckOperator records it."""

    def __init__(self, *, relations: dict[str, tuple[str, str | None]], column_mapping: dict, **kwargs):
        unknown = {key for key in column_mapping if key.split(".", 1)[0] not in relations}
        if unknown:
            raise ValueError(f"columns of no relation: {sorted(unknown)} (keys are <table>.<column>)")
        self.relations = relations  # read by _generate_sql_query, which the parent calls
        # The parent writes each check's result into its dict: two columns sharing one would
        # report each other's results (one deepcopy of the whole mapping keeps them shared).
        mapping = {key: copy.deepcopy(checks) for key, checks in column_mapping.items()}
        super().__init__(table=", ".join(relations), column_mapping=mapping, **kwargs)

    def _generate_sql_query(self, column: str, checks: dict) -> str:
        """The provider's query for one column's checks (sql_check_template), on the
        relation of the column's table, with the operator's, the table's and the check's
        WHERE clauses."""
        table, name = column.split(".", 1)
        relation, where = self.relations[table]
        queries = []
        for check, values in checks.items():
            conditions = [c for c in (self.partition_clause, where, values.get("partition_clause")) if c]
            queries.append(
                f"SELECT '{column}' AS col_name, '{check}' AS check_type, check_result FROM "
                f"(SELECT {self.column_checks[check].format(column=name)} AS check_result FROM {relation}"
                f"{' WHERE ' + ' AND '.join(f'({c})' for c in conditions) if conditions else ''}) AS sq"
            )
        return f" {' UNION ALL '.join(queries)} "  # the parent joins the columns' queries with a bare "UNION ALL"

    def _build_check_results(self) -> list[SQLCheckResult]:
        results = super()._build_check_results()
        for result in results:
            result.table, _, result.name = result.name.partition(".")
            result.column = result.column.split(".", 1)[1]
        return results


class SQLChecksOperator(SQLCheckOperator):
    """SQLCheckOperator over several queries, in one task and one database session.
    ``checks`` maps each check's name to the table it is about; its query is
    ``include/sql/checks/<name>.sql`` (rendered with the DAG's macros and the task's
    ``params``). A check passes as SQLCheckOperator's does, when every value of the query's
    first row is true: its first column says whether it passed, the others are strings
    carrying the figures found, kept as the value found. Every query runs; then the task
    fails naming each check that failed, its query and its row."""

    def __init__(self, *, checks: dict[str, str], **kwargs):
        super().__init__(sql=[f"checks/{name}.sql" for name in checks], **kwargs)
        self.checks = checks

    def execute(self, context):
        rows = self.get_db_hook().run(self.sql, handler=fetch_one_handler, return_last=False)
        self.check_results = [
            self._check_result(name, table, sql, row)
            for (name, table), sql, row in zip(self.checks.items(), self.sql, rows, strict=True)
        ]
        for result in self.check_results:
            self.log.info("%s (%s): %s", result.name, "passed" if result.success else "FAILED", result.actual)
        failed = [r for r in self.check_results if not r.success]
        if failed:
            self._raise_exception(
                f"Test failed: {', '.join(r.name for r in failed)}\n"
                + "\n".join(f"Query of {r.name}:\n{r.content}\nResults:\n{r.actual}" for r in failed)
            )
        self.log.info("Success.")

    @staticmethod
    def _check_result(name: str, table: str, sql: str, row) -> SQLCheckResult:
        values = list(row.values()) if isinstance(row, dict) else list(row or ())
        figures = [str(v) for v in values[1:]]  # the first column says whether it passed
        return SQLCheckResult(
            name=name,
            check_type="expression_is_true",
            success=bool(values) and all(values),
            table=table,
            expected="all truthy",
            actual="; ".join(figures) if figures else (str(row) if row else "no row"),
            content=sql,
            description="All values in the first returned row must evaluate to true",
        )


class RelationalChecks(RecordedCheck, SQLChecksOperator):
    """SQLChecksOperator whose results are recorded in dq_history, each under its name and
    table."""
