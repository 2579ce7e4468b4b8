"""Data-quality gates: per table, "not empty" then "no null or duplicate keys"; then the
relational checks in include/sql/checks/. Any failing check fails the run."""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import TaskGroup

from include.sparkify import config
from include.sparkify.loads import TABLES

# Columns that must never be NULL, besides each table's key.
NOT_NULL = {
    "songplays": ["start_time", "user_id"],
    "time": ["hour", "day", "week", "month", "year", "weekday"],
}

RELATIONAL_CHECKS = ["songplay_users_exist", "songplays_match_staging", "staging_rejects_reported"]


def column_mapping(table: str) -> dict:
    key = TABLES[table][0]
    mapping = {key: {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}}
    for column in NOT_NULL.get(table, []):
        mapping[column] = {"null_check": {"equal_to": 0}}
    return mapping


class ColumnCheck(SQLColumnCheckOperator):
    """SQLColumnCheckOperator whose failure message also names the table it checked."""

    def _raise_exception(self, exception_string: str):
        super()._raise_exception(f"Table {self.table}: {exception_string}")


def not_empty(table: str, task_id: str | None = None) -> SQLTableCheckOperator:
    return SQLTableCheckOperator(
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


def quality_checks(group_id: str = "Run_data_quality_checks") -> TaskGroup:
    with TaskGroup(group_id=group_id, tooltip="Data-quality gates on the star schema") as group:
        per_table = [not_empty(table) >> keys_valid(table, column_mapping(table)) for table in TABLES]
        relational = [
            SQLCheckOperator(task_id=name, conn_id=config.REDSHIFT_CONN_ID, sql=f"checks/{name}.sql")
            for name in RELATIONAL_CHECKS
        ]
        for last in per_table:
            last >> relational
    return group
