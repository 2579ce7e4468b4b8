"""What a run of final_project loads.

A scheduled or backfill run has a data interval and loads exactly the events with
``ts`` in ``[start, end)``. A run without one (asset-triggered after the schema is
created, or manual without a logical date) loads everything: its window is unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Partition keys (Airflow partitioned assets), all UTC: an hour of final_project, a day of the
# daily rollup, a month of the monthly one. The hour's format is the one StartOfDayMapper
# reads by default: no offset, no fraction (2018-11-01T13:00:00).
HOUR_KEY = "%Y-%m-%dT%H:%M:%S"
DAY_KEY = "%Y-%m-%d"
MONTH_KEY = "%Y-%m"

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

    @classmethod
    def from_partition(cls, key: str | None) -> Window:
        """The window of a partition key: an hour (``2018-11-01T13:00:00``), a day
        (``2018-11-01``) or a month (``2018-11``), in UTC; no key: unbounded."""
        if not key:
            return cls()
        for pattern, step in ((HOUR_KEY, "hour"), (DAY_KEY, "day"), (MONTH_KEY, "month")):
            try:
                start = datetime.strptime(key, pattern).replace(tzinfo=UTC)
            except ValueError:
                continue
            if step == "hour":
                return cls(start, start + timedelta(hours=1))
            if step == "day":
                return cls(start, start + timedelta(days=1))
            return cls(start, start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1))
        raise ValueError(f"{key!r} is not an hour, day or month partition key ({HOUR_KEY}, {DAY_KEY}, {MONTH_KEY})")

    @classmethod
    def for_rollup(cls, dag_run) -> Window:
        """The window a rollup run builds: its partition's (none: every day)."""
        return cls.from_partition(getattr(dag_run, "partition_key", None))

    def hour_starts(self) -> list[datetime]:
        """The start of each hour of a bounded window, in order."""
        hours, hour = [], self.start
        while hour < self.end:
            hours.append(hour)
            hour += timedelta(hours=1)
        return hours

    def hour_keys(self) -> list[str]:
        """The partition keys of the hours of a bounded window, in order."""
        return [hour.strftime(HOUR_KEY) for hour in self.hour_starts()]

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
