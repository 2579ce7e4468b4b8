"""What operators monitor: the data-quality history and the metadata of table asset events.

* ``record_checks`` writes the results of a check task (the provider's ``check_results``,
  one per check) into ``dq_history``: every check of every try of every run, passed or
  failed, with the value found and the threshold.
* ``load_metadata`` is the ``extra`` of a table's asset event: rows inserted and deleted,
  the run's data interval and the S3 objects it was staged from.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from include.sparkify import config, varchar

log = logging.getLogger(__name__)

DQ_COLUMNS = [
    "checked_at",
    "dag_id",
    "run_id",
    "task_id",
    "try_number",
    "check_name",
    "check_type",
    "table_name",
    "column_name",
    "observed_value",
    "threshold",
    "passed",
    "interval_start",
    "interval_end",
]
_TEXT_LIMIT = {"observed_value": 4096, "threshold": 1024}


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _unquote(name: str | None) -> str | None:
    return name.strip('"') if name else name


def dq_rows(context, results, error: BaseException | None, default_table: str | None = None) -> list[tuple]:
    """``dq_history`` rows for a check task's results; a check that could not run at all
    (no results, an error) is one failed row carrying the error."""
    ti, dag_run = context["ti"], context.get("dag_run")
    interval = (
        _naive_utc(getattr(dag_run, "data_interval_start", None)),
        _naive_utc(getattr(dag_run, "data_interval_end", None)),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    short_task = ti.task_id.rsplit(".", 1)[-1]
    entries = [
        {
            "check_name": r.name,
            "check_type": r.check_type,
            "table_name": default_table or _unquote(r.table),  # the table checked, not the relation queried
            "column_name": r.column,
            "observed_value": r.actual,
            "threshold": r.expected,
            "passed": bool(r.success),
        }
        for r in results
    ]
    if not entries:
        entries = [
            {
                "check_name": short_task,
                "check_type": "error",
                "table_name": default_table,
                "column_name": None,
                "observed_value": f"{type(error).__name__}: {error}" if error else "no result",
                "threshold": None,
                "passed": False,
            }
        ]
    rows = []
    for e in entries:
        for column, limit in _TEXT_LIMIT.items():
            if e[column] is not None:
                e[column] = varchar.fit(str(e[column]), limit)
        rows.append(
            (
                now,
                ti.dag_id,
                ti.run_id,
                ti.task_id,
                ti.try_number,
                e["check_name"],
                e["check_type"],
                e["table_name"],
                e["column_name"],
                e["observed_value"],
                e["threshold"],
                e["passed"],
                *interval,
            )
        )
    return rows


def record_checks(operator, context, error: BaseException | None) -> int:
    """Write ``operator.check_results`` to dq_history; returns the number of rows written.

    Outside a task run (``op.execute({})`` in a test, no task instance) nothing is recorded.
    """
    if not context or context.get("ti") is None:
        log.info("Not a task run: data-quality results not recorded.")
        return 0
    rows = dq_rows(
        context,
        getattr(operator, "check_results", None) or [],
        error,
        default_table=getattr(operator, "checked_table", None),
    )
    operator.get_db_hook().insert_rows(config.DQ_HISTORY_TABLE, rows, target_fields=DQ_COLUMNS)
    log.info(
        "Recorded %d data-quality result(s) in %s: %s",
        len(rows),
        config.DQ_HISTORY_TABLE,
        ", ".join(f"{r[5]}={'passed' if r[11] else 'FAILED'}" for r in rows),
    )
    return len(rows)


class RecordedCheck:
    """Mixin for the provider's SQL check operators: whatever the outcome, the results of
    the task's checks are recorded in dq_history before the task succeeds or fails."""

    checked_table: str | None = None

    def execute(self, context):
        error = None
        try:
            return super().execute(context)
        except BaseException as exc:
            error = exc
            raise
        finally:
            try:
                record_checks(self, context, error)
            except Exception:
                if error is None:  # a passing check whose result cannot be recorded fails: the retry records
                    raise
                log.exception("Could not record the failed check in %s", config.DQ_HISTORY_TABLE)


# --------------------------------------------------------------------------- asset events
def load_metadata(
    table: str, mode: str, rows_inserted: int | None, rows_deleted: int | None, dag_run, staged: list[dict]
) -> dict:
    """The ``extra`` of a table's asset event (shown in the UI's asset view)."""
    start, end = getattr(dag_run, "data_interval_start", None), getattr(dag_run, "data_interval_end", None)
    sources: list[str] = []
    for result in staged:
        sources += result.get("sources") or []
    return {
        "table": table,
        "mode": mode,
        "rows_inserted": rows_inserted,
        "rows_deleted": rows_deleted,
        "load": "interval" if start is not None else "full",
        "data_interval_start": start.isoformat() if start is not None else None,
        "data_interval_end": end.isoformat() if end is not None else None,
        "sources": sources,
        "staged": {
            r["table"]: {k: r.get(k) for k in ("objects", "rows", "rejected", "skipped_unchanged", "drift")}
            for r in staged
        },
    }
