"""What a run of final_project loads.

A scheduled or backfill run has a data interval and loads exactly the events with
``ts`` in ``[start, end)``. A run without one (asset-triggered after the schema is
created, or manual without a logical date) loads everything: its window is unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Bounds of an unbounded window, as epoch milliseconds and as timestamps.
_FULL_START_MS = 0
_FULL_END_MS = 253402214400000  # 9999-12-31T00:00:00Z


@dataclass(frozen=True)
class Window:
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def from_run(cls, dag_run) -> Window:
        """The window of a DagRun (or anything with data_interval_start/end)."""
        start = getattr(dag_run, "data_interval_start", None)
        end = getattr(dag_run, "data_interval_end", None)
        if start is None or end is None:
            return cls()
        return cls(_as_utc(start), _as_utc(end))

    @property
    def full(self) -> bool:
        return self.start is None

    @property
    def start_ms(self) -> int:
        return _FULL_START_MS if self.full else int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return _FULL_END_MS if self.full else int(self.end.timestamp() * 1000)

    @property
    def start_sql(self) -> str:
        """The start as a SQL timestamp literal (UTC, no time zone)."""
        return _sql_timestamp(self.start_ms)

    @property
    def end_sql(self) -> str:
        return _sql_timestamp(self.end_ms)

    def describe(self) -> dict:
        if self.full:
            return {"mode": "full", "start": None, "end": None}
        return {"mode": "interval", "start": self.start.isoformat(), "end": self.end.isoformat()}


def _as_utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _sql_timestamp(ms: int) -> str:
    moment = datetime(1970, 1, 1) + timedelta(milliseconds=ms)
    return f"TIMESTAMP '{moment:%Y-%m-%d %H:%M:%S.%f}'"
