"""The **publish** of write-audit-publish: a run's audited rows, applied to the published
tables in one transaction.

The ``Load_*`` tasks write a run's rows into ``audit_<table>`` (include/sparkify/loads.py)
and ``Run_data_quality_checks`` audits them. ``Publish`` runs only when every check passed.
In one transaction it:

1. locks the audit tables, then the published tables, in one fixed order;
2. applies each table's audit rows in the table's load mode:
   * upsert: delete the published rows whose key comes again, insert the audit rows;
     ``users`` keeps the newer of two rows, so an old hour never rolls a user back;
   * truncate-insert (songs, artists): if the run wrote the table, delete every published
     row and insert the audit rows; a run whose staged catalog had not changed wrote none
     and leaves the table as it is;
3. records the run's row counts in ``load_volumes``, the history the volume checks read;
4. deletes the run's audit rows.

A reader sees all of a run or none of it. Each table's asset event is emitted here, not by
the write: ``sparkify_analytics`` and the lineage graph follow published data only.

**Partitions.** An hourly run's events name its hour as their Airflow partition key
(``2018-11-01T13:00:00``, UTC; ``window.HOUR_KEY``). A full load
covers every hour of every day its songplays span (whole days, so each day it loaded is
complete for the daily rollup, which waits for all 24 hours of a day): 720 keys for a month.
Airflow registers one event per key, so only the tables a partitioned consumer follows
(``PARTITIONED_FULL_LOAD``: songplays, the rollup's) carry them all; the others' full-load
event is one event, its hours in ``extra["partitions"]``. Measured on the real data set's
full load under the scheduler: 3,600 events (five tables) kept Publish busy 22 s after its SQL
had committed; 724 take 5 s.

Why DELETE ... USING + INSERT and not MERGE: both engines run it (MERGE came to PostgreSQL
in 15 and its Redshift form differs), and Redshift documents it as its upsert pattern:
https://docs.aws.amazon.com/redshift/latest/dg/merge-replacing-existing-rows.html
No TRUNCATE: it commits the transaction on Redshift
(https://docs.aws.amazon.com/redshift/latest/dg/r_TRUNCATE.html).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

from include.sparkify import config
from include.sparkify.loads import (
    CATALOG_LOADS,
    RUN_ID,
    RUN_ROWS,
    STAGED_FROM,
    TABLES,
    LoadMode,
    audit_table,
    quote,
    rows_affected,
    table_lock,
)
from include.sparkify.monitoring import load_metadata
from include.sparkify.task_ids import STAGING_TASKS
from include.sparkify.window import Window

# The published columns of each table, in the order of its DDL (include/sql/ddl/<table>.sql);
# audit_<table> holds run_id and then these.
COLUMNS = {
    "songplays": (
        "songplay_id",
        "start_time",
        "user_id",
        "level",
        "song_id",
        "artist_id",
        "session_id",
        "location",
        "user_agent",
    ),
    "users": ("user_id", "first_name", "last_name", "gender", "level", "last_seen_at"),
    "songs": ("song_id", "title", "artist_id", "year", "duration"),
    "artists": ("artist_id", "name", "location", "latitude", "longitude"),
    "time": ("start_time", "hour", "day", "week", "month", "year", "weekday"),
}

# Upserted tables whose row of a key is replaced only by a row at least as new (column).
NEWER_WINS = {"users": "last_seen_at"}

# The order every Publish takes its locks in. A load holds the lock of its own audit table
# and reads others: Load_time reads audit_songplays, Load_user_dim_table reads users. Each
# reads only tables locked after its own here, so a Publish of one run and the loads of
# another (an overlapping backfill) never wait for each other in a cycle.
LOCK_ORDER = (
    *(audit_table(t) for t in ("time", "users", "songs", "artists", "songplays")),
    CATALOG_LOADS,  # after audit_songs and audit_artists, as their writes take it
    "songplays",
    "users",
    "songs",
    "artists",
    "time",
)

LOAD_VOLUMES = "load_volumes"

# Tables whose rows of an hourly run all lie in its window (the audit checks there are none
# outside it: checks/songplays_match_staging.sql), by their time column. Their delete names
# the window as literal bounds, so on Redshift the zone maps of a table sorted on that column
# skip every block of other hours and the delete does not grow with history
# (https://docs.aws.amazon.com/redshift/latest/dg/t_Sorting_data.html). The DDL names no sort
# key (one file serves both engines; PostgreSQL has no SORTKEY), so the table is SORTKEY AUTO
# and Redshift picks one from the queries it sees (t_Creating_tables.html): see
# docs/operations.md to set it to start_time. A full load has no window.
IN_WINDOW = {"songplays": "start_time", "time": "start_time"}
WINDOW_ONLY = (
    "{{% if not run_window(dag_run).full %}} AND {target}.{column} >= {{{{ run_window(dag_run).start_sql }}}} "
    "AND {target}.{column} < {{{{ run_window(dag_run).end_sql }}}}{{% endif %}}"
)


def _columns(names, prefix: str = "") -> str:
    return ", ".join(f'{prefix}"{name}"' for name in names)


def apply_statements(table: str) -> list[tuple[str, str | None]]:
    """(statement, role) of applying the run's audit rows of ``table``: the role names what
    the statement's row count is, "deleted" or "inserted"."""
    target, audit = quote(table), quote(audit_table(table))
    columns = COLUMNS[table]
    if TABLES[table][1] is LoadMode.TRUNCATE_INSERT:
        # Replaced only by a run that wrote the table: a catalog table whose staged catalog
        # did not change has no audit rows in the run (loads.CATALOG_TABLES) and stays.
        delete = f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {audit} WHERE {audit}.run_id = {RUN_ID})"
    else:
        # No aliases in DELETE ... USING: Redshift's form names tables only
        # (https://docs.aws.amazon.com/redshift/latest/dg/r_DELETE.html).
        key = quote(TABLES[table][0])
        delete = (
            f"DELETE FROM {target} USING {audit} WHERE {audit}.run_id = {RUN_ID} AND {target}.{key} = {audit}.{key}"
        )
        if table in NEWER_WINS:
            newer = f'"{NEWER_WINS[table]}"'
            delete += f" AND {audit}.{newer} >= {target}.{newer}"
        if table in IN_WINDOW:
            delete += WINDOW_ONLY.format(target=target, column=quote(IN_WINDOW[table]))
    insert = f"INSERT INTO {target} ({_columns(columns)})\nSELECT {_columns(columns, 'a.')} FROM {audit} AS a"
    if table in NEWER_WINS:  # a published row left by the delete is newer: keep it
        key = quote(TABLES[table][0])
        insert += f"\nLEFT JOIN {target} AS p ON a.{key} = p.{key}\nWHERE a.run_id = {RUN_ID} AND p.{key} IS NULL"
    else:
        insert += f"\nWHERE a.run_id = {RUN_ID}"
    return [(delete, "deleted"), (insert, "inserted")]


def publish_statements(tables=tuple(TABLES)) -> list[tuple[str | None, str, str | None]]:
    """(table, statement, role) of the whole publish, in order; one transaction."""
    steps: list[tuple[str | None, str, str | None]] = [(None, table_lock(quote(t)), None) for t in LOCK_ORDER]
    for table in tables:
        steps += [(table, sql, role) for sql, role in apply_statements(table)]
    steps += [
        # The staged catalog the run's songs and artists were read from is now published.
        (None, f"UPDATE {CATALOG_LOADS} SET published_at = {{{{ sql_now() }}}} WHERE {RUN_ROWS}", None),
        (None, f"DELETE FROM {LOAD_VOLUMES} WHERE {RUN_ROWS}", None),
        (None, "{% include 'publish/load_volumes.sql' %}", None),
    ]
    steps.append((None, SPAN, "span"))
    steps += [(None, f"DELETE FROM {quote(audit_table(t))} WHERE {RUN_ROWS}", None) for t in tables]
    return steps


# The tables whose full-load event carries every hour it covers: those a partitioned consumer
# follows (dags/sparkify_analytics.py: songplays, by day). See the module's docstring.
PARTITIONED_FULL_LOAD = frozenset({"songplays"})

# The first and last play the run publishes: the days a full load's partitions cover.
SPAN = f'SELECT MIN(start_time), MAX(start_time) FROM "audit_songplays" WHERE {RUN_ROWS}'


def partition_keys(window: Window, span: tuple | None) -> list[str]:
    """The hour keys a run's events carry: its window's hours; for a full load, every hour
    of the days from its first play to its last (none without plays)."""
    if not window.full:
        return window.hour_keys()
    first, last = span or (None, None)
    if first is None:
        return []
    start = datetime.combine(first.date(), datetime.min.time(), UTC)
    end = datetime.combine(last.date() + timedelta(days=1), datetime.min.time(), UTC)
    return Window(start, end).hour_keys()


class PublishOperator(SQLExecuteQueryOperator):
    """Publishes the run's audited rows of every table in one transaction and emits each
    table's asset event, with the rows deleted and inserted, the data interval and the
    S3 objects the rows were staged from."""

    def __init__(self, *, tables=tuple(TABLES), **kwargs):
        self.steps = publish_statements(tables)
        super().__init__(
            sql=[sql for _, sql, _ in self.steps],
            conn_id=config.REDSHIFT_CONN_ID,
            autocommit=False,  # the whole publish in one transaction
            split_statements=False,
            return_last=False,
            show_return_value_in_logs=False,
            handler=rows_affected,
            outlets=[config.table_asset(t) for t in tables],
            **kwargs,
        )
        self.tables = tuple(tables)

    def execute(self, context) -> dict:
        counts = super().execute(context)
        totals = {t: {"inserted": 0, "deleted": 0} for t in self.tables}
        span = None
        for (table, _, role), count in zip(self.steps, counts, strict=True):
            if role == "span":
                span = count[0] if count else None
            elif table is not None and role is not None:
                totals[table][role] += max(int(count), 0)
        window = Window.from_run(context.get("dag_run"))
        keys = partition_keys(window, span)
        staged = [r for r in context["ti"].xcom_pull(task_ids=list(STAGING_TASKS.values())) or [] if r]
        published = {}
        for table in self.tables:
            sources = [r for r in staged if isinstance(r, dict) and r.get("table") in STAGED_FROM[table]]
            metadata = load_metadata(
                table,
                TABLES[table][1].value,
                totals[table]["inserted"],
                totals[table]["deleted"],
                context.get("dag_run"),
                sources,
            )
            metadata["partitions"] = {"count": len(keys), "first": keys[0], "last": keys[-1]} if keys else None
            event = context["outlet_events"][config.table_asset(table)]
            event.extra.update(metadata)
            if keys and (table in PARTITIONED_FULL_LOAD or not window.full):
                event.add_partitions(keys)
            published[table] = metadata
            self.log.info(
                "Published %s: %d rows deleted, %d inserted", table, totals[table]["deleted"], totals[table]["inserted"]
            )
        return published


def publish(task_id: str, **kwargs) -> PublishOperator:
    return PublishOperator(
        task_id=task_id,
        doc_md="Applies the run's audited rows (`audit_<table>`) to the published tables in one transaction, "
        "records the run's volumes in `load_volumes`, deletes the audit rows and emits each table's asset. "
        "Runs only when every data-quality check passed.",
        **kwargs,
    )
