"""The **audit** of write-audit-publish: data-quality gates on a run's rows before they are
published. Any failing check fails the run, and ``Publish`` does not run.

A load writes the run's rows into ``audit_<table>`` (include/sparkify/loads.py). The checks
read those rows, and how they would combine with what is published:

* every table "not empty after publishing", and per table "no null or duplicate keys" in
  the run's rows. Duplicates after publishing can only come from the run's rows:
  publishing deletes every published row whose key comes again, and the published keys are
  unique already;
* schema drift that loses data: a source key renamed upstream leaves a column the star
  schema needs NULL in the run's staged rows;
* the relational checks in include/sql/checks/ (users of the run's songplays present after
  publishing, the window reconciliation, the volume against history).

Every per-run check reads the run's rows (its window, or the catalog it rewrote), never a
whole published table, so an hourly run's cost does not grow with history or with the
catalog. The whole tables are checked by a full load's audit (its rows are all of them) and
once a day by ``warehouse_checks`` (``whole_table_checks``).

Every check's result, passed or failed, is recorded in ``dq_history`` before its task
ends (``monitoring.RecordedCheck`` on the provider's operators); the table recorded is the
published table the rows are for.

The audit is three tasks, one per kind of check (include/sparkify/check_operators.py says
why): ``tables_not_empty`` (SQLTableCheckOperator) and ``column_checks``
(SQLColumnCheckOperator), then ``relational_checks`` (SQLCheckOperator). Each check keeps
its own name and result row, and a failure names the checks that failed."""

from __future__ import annotations

from airflow.sdk import TaskGroup

from include.sparkify import config
from include.sparkify.check_operators import ColumnChecks, RelationalChecks, TableCheck
from include.sparkify.loads import RUN_ROWS, TABLES, LoadMode, audit_table
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


def one_published_row(table: str) -> str:
    """At most one row of the published ``table``, as a relation: enough to tell whether it is
    empty without reading it whole (the daily checks)."""
    return f'(SELECT 1 AS present FROM "{table}" LIMIT 1) AS published'


def tables_not_empty(tables, task_id: str = "tables_not_empty", rows=after_publish) -> TableCheck:
    """Each of ``tables`` holds rows in ``rows(table)`` (by default once the run is published,
    ``after_publish``): one task, one check per table (``<table>_not_empty``, recorded for
    that table)."""
    parts = [f"SELECT '{table}' AS published_table FROM {rows(table)}" for table in tables]
    checks = {
        f"{table}_not_empty": {"check_statement": "COUNT(*) > 0", "partition_clause": f"published_table = '{table}'"}
        for table in tables
    }
    return TableCheck(
        task_id=task_id,
        conn_id=config.REDSHIFT_CONN_ID,
        table=f"({' UNION ALL '.join(parts)}) AS published_tables",
        checks=checks,
        check_tables={f"{table}_not_empty": table for table in tables},
    )


def key_columns(tables) -> dict:
    """The column checks of ``tables``' keys and NOT_NULL columns, keyed ``<table>.<column>``."""
    return {f"{table}.{column}": checks for table in tables for column, checks in column_mapping(table).items()}


def run_column_checks(task_id: str = "column_checks") -> ColumnChecks:
    """One task: in the run's rows of each ``audit_<table>``, no NULL or duplicate key and no
    NULL in the table's NOT_NULL columns (``column_mapping``); in the run's staged rows, no
    NULL in the columns the star schema needs (REQUIRED_STAGED). Recorded per table and
    column, e.g. ``user_id.null_check`` for users."""
    relations = {table: (f'"{audit_table(table)}"', RUN_ROWS) for table in TABLES}
    mapping = key_columns(TABLES)
    for staging_table, (rows, columns) in REQUIRED_STAGED.items():
        relations[staging_table] = (f'"{staging_table}"', rows)
        mapping |= {
            f"{staging_table}.{column}": {
                "null_check": {"equal_to": 0, **({"partition_clause": where} if where else {})}
            }
            for column, where in columns.items()
        }
    return ColumnChecks(task_id=task_id, conn_id=config.REDSHIFT_CONN_ID, relations=relations, column_mapping=mapping)


def relational_checks(checks: dict[str, str], task_id: str = "relational_checks", **kwargs) -> RelationalChecks:
    """One task running ``checks`` (name: the table it is about), each
    include/sql/checks/<name>.sql."""
    return RelationalChecks(task_id=task_id, conn_id=config.REDSHIFT_CONN_ID, checks=checks, **kwargs)


# The whole-table checks of warehouse_checks (include/sql/checks/<name>.sql).
WHOLE_TABLE_RELATIONAL = {"published_songplay_users_exist": "songplays"}


def whole_table_checks(group_id: str) -> TaskGroup:
    """Every published table: not empty, no NULL or duplicate key, no NULL where the schema
    needs a value; then every songplay's user present. Scans whole tables: run daily. The
    same three kinds of check task as a run's audit, on the published tables."""
    with TaskGroup(group_id=group_id, tooltip="Whole published tables, checked daily") as group:
        columns = ColumnChecks(
            task_id="column_checks",
            conn_id=config.REDSHIFT_CONN_ID,
            relations={table: (f'"{table}"', None) for table in TABLES},
            column_mapping=key_columns(TABLES),
        )
        [tables_not_empty(TABLES, rows=one_published_row), columns] >> relational_checks(WHOLE_TABLE_RELATIONAL)
    return group


def quality_checks(group_id: str = QUALITY_CHECKS) -> TaskGroup:
    """The audit of an hourly run or a full load: every table not empty after publishing and
    the run's column checks, then the relational checks."""
    with TaskGroup(group_id=group_id, tooltip="Audit of the run's rows before they are published") as group:
        [tables_not_empty(TABLES), run_column_checks()] >> relational_checks(RELATIONAL_CHECKS, params=VOLUME_PARAMS)
    return group
