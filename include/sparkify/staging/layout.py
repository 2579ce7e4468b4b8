"""Where the log events of an hour are in the bucket: the log key template.

``SPARKIFY_LOG_KEY_TEMPLATE`` is a strftime pattern rendered for every hour a run's window
touches. The default names Udacity's day files (``log_data/%Y/%m/%Y-%m-%d-events.json``);
a producer writing hour partitions uses e.g. ``log_data/%Y/%m/%d/%H/``. A rendered value
ending in ``/`` is a prefix: every ``.json`` object below it. A full load reads every
``.json`` object under the template's fixed prefix (the text before its first directive).

Late data: an event may land in a later partition than its ``ts``, up to
``SPARKIFY_LATE_MINUTES`` after the hour. So a run also reads the partitions of the
``late_minutes`` after its window; its loads take only the events of its window, once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from include.sparkify.window import Window

_DIRECTIVE = re.compile(r"%(.)")
# The finest time unit a template's directives distinguish, finest first.
_UNITS = (("hour", set("HIp")), ("day", set("dja")), ("month", set("mbB")), ("year", set("Yy")))


@dataclass(frozen=True)
class Partition:
    """One rendered key (an object, or a prefix ending in ``/``) and the hours it holds:
    ``[start_ms, end_ms)``. ``late``: read only for events that arrive late."""

    key: str
    start_ms: int
    end_ms: int
    late: bool = False

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("/")


@dataclass(frozen=True)
class LogLayout:
    template: str
    late_minutes: float = 60

    def __post_init__(self) -> None:
        directives = set(_DIRECTIVE.findall(self.template)) - {"%"}
        if directives & set("MSfzZcxX"):
            raise ValueError(
                f"SPARKIFY_LOG_KEY_TEMPLATE {self.template!r}: partitions finer than an hour are not supported "
                "(an hourly run reads whole partitions)"
            )
        if not self.template.endswith((".json", "/")):
            raise ValueError(
                f"SPARKIFY_LOG_KEY_TEMPLATE {self.template!r} must name .json objects, or end with / "
                "(every .json object under the rendered prefix)"
            )
        if self.late_minutes < 0:
            raise ValueError("SPARKIFY_LATE_MINUTES must not be negative")

    @property
    def unit(self) -> str | None:
        """hour, day, month or year: what one rendered key covers (None: one fixed key)."""
        directives = set(_DIRECTIVE.findall(self.template))
        return next((unit for unit, letters in _UNITS if directives & letters), None)

    @property
    def fixed_prefix(self) -> str:
        """What every key starts with, up to the last ``/`` before the first directive: a
        full load reads every ``.json`` object below it."""
        head = self.template.split("%", 1)[0]
        return head[: head.rfind("/") + 1] if "%" in self.template else head

    def partitions(self, window: Window) -> list[Partition]:
        """The keys a run of ``window`` reads, in time order, without repeats: those of the
        window's hours, then those of the late minutes after it."""
        if window.full:
            return []
        hour = window.start.replace(minute=0, second=0, microsecond=0)
        late_end = window.end + timedelta(minutes=self.late_minutes)
        seen: dict[str, Partition] = {}
        while hour < late_end:
            key = hour.strftime(self.template)
            if key not in seen:
                start, end = self._span(hour)
                seen[key] = Partition(key, _ms(start), _ms(end), late=hour >= window.end)
            hour += timedelta(hours=1)
        return list(seen.values())

    def _span(self, hour: datetime) -> tuple[datetime, datetime]:
        unit = self.unit
        if unit == "hour":
            return hour, hour + timedelta(hours=1)
        if unit == "day":
            day = hour.replace(hour=0)
            return day, day + timedelta(days=1)
        if unit == "month":
            month = hour.replace(day=1, hour=0)
            return month, (month + timedelta(days=32)).replace(day=1)
        if unit == "year":
            year = hour.replace(month=1, day=1, hour=0)
            return year, year.replace(year=year.year + 1)
        return datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
