"""Data-quality gates: per table, "not empty" then "no null or duplicate keys"; then the
relational checks in include/sql/checks/. Any failing check fails the run.

Every check's result, passed or failed, is recorded in ``dq_history`` before its task
ends (``monitoring.RecordedCheck`` on the provider's operators)."""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import TaskGroup

from include.sparkify import config
from include.sparkify.loads import TABLES
from include.sparkify.monitoring import RecordedCheck
from include.sparkify.task_ids import QUALITY_CHECKS

# Columns that must never be NULL, besides each table's key.
NOT_NULL = {
    "songplays": ["start_time", "user_id"],
    "time": ["hour", "day", "week", "month", "year", "weekday"],
}

# The relational checks (include/sql/checks/<name>.sql) and the table each one checks.
RELATIONAL_CHECKS = {
    "songplay_users_exist": "songplays",
    "songplays_match_staging": "songplays",
    "staging_rejects_reported": "staging_rejects",
}


def column_mapping(table: str) -> dict:
    key = TABLES[table][0]
    mapping = {key: {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}}
    for column in NOT_NULL.get(table, []):
        mapping[column] = {"null_check": {"equal_to": 0}}
    return mapping


class TableCheck(RecordedCheck, SQLTableCheckOperator):
    """SQLTableCheckOperator whose results are recorded in dq_history."""


class ColumnCheck(RecordedCheck, SQLColumnCheckOperator):
    """SQLColumnCheckOperator whose failure message also names the table it checked, and
    whose results are recorded in dq_history."""

    def _raise_exception(self, exception_string: str):
        super()._raise_exception(f"Table {self.table}: {exception_string}")


class RelationalCheck(RecordedCheck, SQLCheckOperator):
    """SQLCheckOperator on a query whose first column says whether the check passed and
    whose other columns carry the figures found; recorded in dq_history with the figures."""

    def __init__(self, *, checked_table: str, **kwargs):
        super().__init__(**kwargs)
        self.checked_table = checked_table

    def _build_check_results(self, records):
        results = super()._build_check_results(records)
        values = records.values() if isinstance(records, dict) else (records or ())
        figures = [str(v) for v in values if not isinstance(v, bool)]
        for result in results:
            result.table = self.checked_table
            result.name = self.task_id.rsplit(".", 1)[-1]
            if figures:
                result.actual = "; ".join(figures)
        return results


def not_empty(table: str, task_id: str | None = None) -> SQLTableCheckOperator:
    return TableCheck(
        task_id=task_id or f"{table}_not_empty",
        conn_id=config.REDSHIFT_CONN_ID,
        table=f'"{table}"',
        checks={"row_count_check": {"check_statement": "COUNT(*) > 0"}},
    )


def keys_valid(table: str, mapping: dict, task_id: str | None = None) -> SQLColumnCheckOperator:
    return ColumnCheck(
        task_id=task_id or f"{table}_keys",
        conn_id=config.REDSHIFT_CONN_ID,
        table=f'"{table}"',
        column_mapping=mapping,
    )


def quality_checks(group_id: str = QUALITY_CHECKS) -> TaskGroup:
    with TaskGroup(group_id=group_id, tooltip="Data-quality gates on the star schema") as group:
        per_table = [not_empty(table) >> keys_valid(table, column_mapping(table)) for table in TABLES]
        relational = [
            RelationalCheck(
                task_id=name, conn_id=config.REDSHIFT_CONN_ID, sql=f"checks/{name}.sql", checked_table=table
            )
            for name, table in RELATIONAL_CHECKS.items()
        ]
        for last in per_table:
            last >> relational
    return group
