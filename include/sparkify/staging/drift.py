"""Schema drift: source records whose keys are not the ones staging maps.

A record with a key the jsonpaths (or, for ``JSON 'auto'``, the staging columns) do not map
is a new upstream field: COPY drops it silently. A record missing a mapped key leaves its
column NULL. Both engines count, per staging load, the records carrying each unmapped key
and the records missing each mapped key:

* PostgreSQL: the fast path's mapper reports every JSON object whose keys differ (rows.py);
* Redshift: a second COPY of the same manifest loads each record whole into a SUPER column
  (``FORMAT JSON 'noshred'``) and PartiQL's UNPIVOT lists its keys
  (include/sql/staging/redshift/drift_keys.sql).

The counts go to ``staging_drift`` (one row per key per load) and onto the staging task's
result, which the tables' asset events carry. A key drifting in more than
``SPARKIFY_DRIFT_WARN_FRACTION`` (config.DRIFT_WARN_FRACTION) of the records raises a warning and an alert; it does not
fail the run. A drift that loses data the star schema needs (a required column left NULL)
fails the audit instead (include/sparkify/quality.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

from include.sparkify import config

log = logging.getLogger(__name__)


class DriftCounter:
    """Counts, over the records of one load, the unmapped keys present and the mapped keys
    absent. ``observe`` is called only for records whose key set differs from ``mapped``."""

    def __init__(self, mapped: Iterable[str]) -> None:
        self.mapped = frozenset(mapped)
        self.unknown: Counter[str] = Counter()
        self.missing: Counter[str] = Counter()

    def observe(self, record: dict) -> None:
        keys = record.keys()
        self.unknown.update(k for k in keys if k not in self.mapped)
        self.missing.update(k for k in self.mapped if k not in keys)

    def summary(self, records: int) -> dict:
        return summary(records, self.unknown, self.missing)


def summary(records: int, unknown: dict[str, int], missing: dict[str, int]) -> dict:
    """The drift of a load as the staging result carries it: the records examined, and per
    drifting key its kind and the records it drifted in; ``warn`` when one key's share
    passes config.DRIFT_WARN_FRACTION."""
    keys = {k: {"kind": "unknown", "records": int(n)} for k, n in sorted(unknown.items()) if n}
    keys |= {k: {"kind": "missing", "records": int(n)} for k, n in sorted(missing.items()) if n}
    worst = max((v["records"] for v in keys.values()), default=0)
    return {
        "records": records,
        "keys": keys,
        "warn": bool(keys) and worst > config.DRIFT_WARN_FRACTION * max(records, 1),
    }


def from_key_counts(records: int, present: dict[str, int], mapped: Iterable[str]) -> dict:
    """The drift of a load from how many records carry each key (Redshift's UNPIVOT, which
    reports a SUPER's keys as stored, case included; jsonpaths and JSON 'auto' match keys
    case-sensitively too)."""
    mapped = list(mapped)
    unknown = {k: n for k, n in present.items() if k not in set(mapped)}
    return summary(records, unknown, {k: records - present.get(k, 0) for k in mapped})


def describe(table: str, drift: dict) -> str:
    parts = [f"{k} ({v['kind']}, {v['records']} records)" for k, v in drift["keys"].items()]
    return (
        f"{table}: source keys that staging does not map, or mapped keys missing, in {drift['records']} records: "
        + (", ".join(parts) or "none")
    )


def report(result: dict, run_id: str, context: dict | None = None) -> None:
    """Log the drift of a staging result; over the threshold, warn and alert (never fail)."""
    drift = result.get("drift") or {}
    if not drift.get("keys"):
        return
    text = describe(result["table"], drift)
    if not drift.get("warn"):
        log.info("%s", text)
        return
    log.warning("Schema drift: %s. See staging_drift where run_id = '%s'.", text, run_id)
    if context is not None:
        from include.sparkify.alerts import Alert, send

        lines = [("Run", run_id), ("Staging table", result["table"]), ("Records examined", str(drift["records"]))]
        lines += [(key, f"{v['kind']} in {v['records']} records") for key, v in drift["keys"].items()]
        send(Alert(f"[Sparkify] schema drift in {result['table']} (run {run_id})", lines), context)
