"""The **audit** of write-audit-publish: data-quality gates on a run's rows before they are
published. Any failing check fails the run, and ``Publish`` does not run.

A load writes the run's rows into ``audit_<table>`` (include/sparkify/loads.py). The checks
read those rows, and how they would combine with what is published:

* every table "not empty after publishing" (one task for the five tables), and per table "no
  null or duplicate keys" in the run's rows. Duplicates after publishing can only come from
  the run's rows: publishing deletes every published row whose key comes again, and the
  published keys are unique already;
* the relational checks in include/sql/checks/ (users of the run's songplays present after
  publishing, the window reconciliation, the volume against history);
* schema drift that loses data: a source key renamed upstream leaves a column the star
  schema needs NULL in the run's staged rows.

Every per-run check reads the run's rows (its window, or the catalog it rewrote), never a
whole published table, so an hourly run's cost does not grow with history or with the
catalog. The whole tables are checked by a full load's audit (its rows are all of them) and
once a day by ``warehouse_checks`` (``whole_table_checks``).

Every check's result, passed or failed, is recorded in ``dq_history`` before its task
ends (``monitoring.RecordedCheck`` on the provider's operators); the table recorded is the
published table the rows are for.

Each check task costs a task instance (about half a CPU-second of scheduler, API server,
worker and task process on the local stack, docs/benchmarks.md) on every hourly run, for a
query of a few milliseconds. So checks that read the same kind of relation share a task:
the five "not empty" checks are one ``SQLTableCheckOperator``, each table's key and column
checks one ``SQLColumnCheckOperator``; each check keeps its own name and result row."""

from __future__ import annotations

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)
from airflow.sdk import TaskGroup

from include.sparkify import config
from include.sparkify.loads import RUN_ROWS, TABLES, LoadMode, audit_table
from include.sparkify.monitoring import RecordedCheck
from include.sparkify.task_ids import QUALITY_CHECKS

# Columns that must never be NULL, besides each table's key.
NOT_NULL = {
    "songplays": ["start_time", "user_id"],
    "users": ["last_seen_at"],
    "time": ["hour", "day", "week", "month", "year", "weekday"],
}

# The relational checks (include/sql/checks/<name>.sql) and the table each one checks.
RELATIONAL_CHECKS = {
    "songplay_users_exist": "songplays",
    "songplays_match_staging": "songplays",
    "songplays_volume": "songplays",
    "staged_events_duplicates": "staging_events",
    "staging_rejects_reported": "staging_rejects",
}

# Staged columns the star schema needs, per staging table: NULL in a run's staged rows means
# the source key they come from is missing (renamed upstream, say) and the rows would load
# incomplete or not at all. (column, only in rows where) — None: in every row.
_WINDOW = "ts >= {{ run_window(dag_run).start_ms }} AND ts < {{ run_window(dag_run).end_ms }}"
REQUIRED_STAGED = {
    "staging_events": (
        _WINDOW,
        {
            **dict.fromkeys(("page", "level", "sessionid", "iteminsession", "userid"), None),
            **dict.fromkeys(("song", "artist", "length"), "page = 'NextSong'"),
        },
    ),
    # The staged catalog is checked when the run rewrites songs from it, not on every run.
    "staging_songs": (
        f'EXISTS (SELECT 1 FROM "{audit_table("songs")}" WHERE {RUN_ROWS})',
        dict.fromkeys(("song_id", "title", "artist_id", "artist_name", "duration")),
    ),
}

# The thresholds of the volume checks (see config and docs/operations.md): task params, so a
# run can be triggered with others in its conf (e.g. {"volume_min_ratio": 0} for an hour
# known to be short).
VOLUME_PARAMS = {
    "volume_min_ratio": config.VOLUME_MIN_RATIO,
    "volume_max_ratio": config.VOLUME_MAX_RATIO,
    "volume_min_baseline": config.VOLUME_MIN_BASELINE,
    "volume_history_days": config.VOLUME_HISTORY_DAYS,
    "volume_min_history_runs": config.VOLUME_MIN_HISTORY_RUNS,
    "max_duplicate_fraction": config.MAX_DUPLICATE_FRACTION,
}


def column_mapping(table: str) -> dict:
    key = TABLES[table][0]
    mapping = {key: {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}}
    for column in NOT_NULL.get(table, []):
        mapping[column] = {"null_check": {"equal_to": 0}}
    return mapping


def after_publish(table: str) -> str:
    """Enough of the rows ``table`` will hold once the run is published to tell whether it
    is empty (keys only), as a relation: the run's rows, and one published row if the run
    keeps them (an upserted table; a catalog table the run did not rewrite). One row, not
    all: a run's checks must not grow with the table (issue 14)."""
    key, mode = TABLES[table]
    audit = f'"{audit_table(table)}"'
    run_rows = f'SELECT "{key}" FROM {audit} WHERE {RUN_ROWS}'
    one_published = f'SELECT "{key}" FROM (SELECT "{key}" FROM "{table}" LIMIT 1) AS published'
    if mode is LoadMode.TRUNCATE_INSERT:  # replaced only by a run that wrote it (publish.py)
        one_published += f" WHERE NOT EXISTS ({run_rows})"
    return f"({run_rows} UNION ALL {one_published}) AS after_publish"


class TableCheck(RecordedCheck, SQLTableCheckOperator):
    """SQLTableCheckOperator whose results are recorded in dq_history. ``check_tables``: the
    table each check is about, when one task checks several (else ``checked_table``)."""

    def __init__(self, *, checked_table: str | None = None, check_tables: dict[str, str] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.checked_table = checked_table
        self.check_tables = check_tables or {}

    def _build_check_results(self, records):
        results = super()._build_check_results(records)
        for result in results:
            result.table = self.check_tables.get(result.name, result.table)
        return results


class ColumnCheck(RecordedCheck, SQLColumnCheckOperator):
    """SQLColumnCheckOperator whose failure message also names the table it checked, and
    whose results are recorded in dq_history."""

    def __init__(self, *, checked_table: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.checked_table = checked_table

    def _raise_exception(self, exception_string: str):
        super()._raise_exception(f"Table {self.checked_table or self.table}: {exception_string}")


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
    """``table`` holds rows (a whole published table: the daily checks)."""
    return TableCheck(
        task_id=task_id or f"{table}_not_empty",
        conn_id=config.REDSHIFT_CONN_ID,
        table=f'"{table}"',
        checked_table=table,
        checks={"row_count_check": {"check_statement": "COUNT(*) > 0"}},
    )


def tables_not_empty(tables, task_id: str = "tables_not_empty") -> SQLTableCheckOperator:
    """Each of ``tables`` will hold rows once the run is published (``after_publish``): one
    task, one check per table (``<table>_not_empty``, recorded for that table)."""
    parts = [f"SELECT '{table}' AS published_table FROM {after_publish(table)}" for table in tables]
    checks = {
        f"{table}_not_empty": {"check_statement": "COUNT(*) > 0", "partition_clause": f"published_table = '{table}'"}
        for table in tables
    }
    return TableCheck(
        task_id=task_id,
        conn_id=config.REDSHIFT_CONN_ID,
        table=f"({' UNION ALL '.join(parts)}) AS after_publish",
        checks=checks,
        check_tables={f"{table}_not_empty": table for table in tables},
    )


def keys_valid(table: str, mapping: dict, task_id: str | None = None, audit: bool = False) -> SQLColumnCheckOperator:
    """No NULL or duplicate keys (and no NULL in ``mapping``'s other columns) in ``table``, or,
    with ``audit``, in the run's rows of ``audit_<table>``."""
    return ColumnCheck(
        task_id=task_id or f"{table}_keys",
        conn_id=config.REDSHIFT_CONN_ID,
        table=f'"{audit_table(table)}"' if audit else f'"{table}"',
        partition_clause=RUN_ROWS if audit else None,
        checked_table=table,
        column_mapping=mapping,
    )


def required_staged(staging_table: str) -> SQLColumnCheckOperator:
    """No NULL in the staged columns the star schema needs, in the run's staged rows."""
    rows, columns = REQUIRED_STAGED[staging_table]
    mapping = {
        column: {"null_check": {"equal_to": 0, **({"partition_clause": where} if where else {})}}
        for column, where in columns.items()
    }
    return ColumnCheck(
        task_id=f"{staging_table}_required_columns",
        conn_id=config.REDSHIFT_CONN_ID,
        table=f'"{staging_table}"',
        partition_clause=rows,
        checked_table=staging_table,
        column_mapping=mapping,
    )


# The whole-table checks of warehouse_checks (include/sql/checks/<name>.sql).
WHOLE_TABLE_RELATIONAL = {"published_songplay_users_exist": "songplays"}


def whole_table_checks(group_id: str) -> TaskGroup:
    """Every published table: not empty, no NULL or duplicate key, no NULL where the schema
    needs a value; and every songplay's user present. Scans whole tables: run daily."""
    with TaskGroup(group_id=group_id, tooltip="Whole published tables, checked daily") as group:
        per_table = [not_empty(table) >> keys_valid(table, column_mapping(table)) for table in TABLES]
        relational = [
            RelationalCheck(task_id=name, conn_id=config.REDSHIFT_CONN_ID, sql=f"checks/{name}.sql", checked_table=t)
            for name, t in WHOLE_TABLE_RELATIONAL.items()
        ]
        for upstream in per_table:
            upstream >> relational
    return group


def quality_checks(group_id: str = QUALITY_CHECKS) -> TaskGroup:
    with TaskGroup(group_id=group_id, tooltip="Audit of the run's rows before they are published") as group:
        first = [tables_not_empty(TABLES)]
        first += [keys_valid(table, column_mapping(table), audit=True) for table in TABLES]
        first += [required_staged(t) for t in REQUIRED_STAGED]
        relational = [
            RelationalCheck(
                task_id=name,
                conn_id=config.REDSHIFT_CONN_ID,
                sql=f"checks/{name}.sql",
                checked_table=table,
                params=VOLUME_PARAMS,
            )
            for name, table in RELATIONAL_CHECKS.items()
        ]
        for upstream in first:
            upstream >> relational
    return group
