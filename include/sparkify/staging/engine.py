"""What both staging engines share: one connection and transaction per load, and the
bookkeeping statements (manifest, clearing, rejects) of include/sql/staging."""

from __future__ import annotations

from dataclasses import dataclass

from include.sparkify import varchar
from include.sparkify.staging.sources import StageResult, StagingRun
from include.sparkify.staging.statements import render


@dataclass(frozen=True)
class Manifest:
    """What staging_manifest says of a staging table: the objects it last staged, and when
    they were last compared with the source."""

    fingerprint: str
    run_id: str
    checked_minutes_ago: float


class Engine:
    """One staging load's connection to the warehouse. A subclass connects and loads."""

    name = ""  # the connection type it serves: "redshift" or "postgres"
    now = "LOCALTIMESTAMP"  # the current UTC time in this warehouse's SQL

    def __init__(self, run: StagingRun, s3_hook, s3_client) -> None:
        self.run = run
        self.s3_hook = s3_hook
        self.s3 = s3_client
        self.conn = None
        self.rowcount = -1

    def connect(self):
        raise NotImplementedError

    def load(self, objects: list, result: StageResult) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.conn = self.connect()
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()  # no-op after commit; undoes a failed load
            finally:
                self.conn.close()

    def commit(self) -> None:
        self.conn.commit()

    def after_commit(self, objects: list, result: StageResult) -> None:
        """Work on a committed load that may fail without undoing it (Redshift's drift count)."""

    def query(self, sql: str, params: dict | None = None) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            self.rowcount = cur.rowcount  # of the last statement: rows it inserted, deleted, ...
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def execute(self, name: str, params: dict | None = None, **fragments: object) -> list[tuple]:
        """Run include/sql/staging/<name>.sql; the rows of its last statement."""
        rows: list[tuple] = []
        for statement in render(name, now=self.now, table=self.run.table, **fragments):
            rows = self.query(statement, {"table": self.run.table, "run_id": self.run.run_id, **(params or {})})
        return rows

    # ------------------------------------------------------------------ bookkeeping
    def manifest(self) -> Manifest | None:
        rows = self.execute("manifest_read")
        if not rows:
            return None
        print_, run_id, checked_at, now = rows[0]
        return Manifest(print_, run_id, (now - checked_at).total_seconds() / 60)

    def mark_checked(self) -> None:
        self.execute("manifest_mark_checked")

    def clear(self) -> None:
        """Remove what this load replaces, and this run's earlier rejects of the table."""
        partitions = self.run.partitions()
        if partitions is None:
            self.empty()
        for partition in partitions or []:
            self.execute(
                "clear_partition",
                {
                    "key": partition.key,
                    "key_length": len(partition.key),
                    "prefix_tag": self.run.source.prefix_tag,
                    "start_ms": partition.start_ms,
                    "end_ms": partition.end_ms,
                },
                prefix=partition.is_prefix,
            )
        self.execute("clear_rejects")
        self.execute("drift_clear")

    def empty(self) -> None:
        self.query(f"DELETE FROM {self.run.table}")

    def record(self, print_: str, result: StageResult) -> None:
        self.record_drift(result.drift)
        self.execute(
            "manifest_record",
            {"fingerprint": print_, "objects": result.objects, "bytes": result.bytes, "rows_staged": result.rows},
        )

    def record_drift(self, drift: dict) -> None:
        """Write the load's schema drift (drift.py's summary) to staging_drift."""
        keys = list(drift.get("keys", {}).items())
        if not keys:
            return
        params: dict = {"records_read": int(drift["records"])}
        for i, (key, found) in enumerate(keys):
            params |= {
                f"key_{i}": varchar.fit(key, 256),
                f"kind_{i}": found["kind"],
                f"records_{i}": int(found["records"]),
            }
        self.execute("drift_record", params, rows=len(keys))

    def insert_rejects(self, rejects: str, params: dict | None = None) -> None:
        """Write the rows of the relation ``rejects`` (source_key, line_number, reason,
        raw_text) to staging_rejects for this run."""
        self.execute("insert_rejects", params, rejects=rejects)

    def rejected(self) -> int:
        return int(self.execute("reject_count")[0][0])

    def reject_samples(self, limit: int) -> list[tuple]:
        return self.execute("reject_samples", limit=int(limit))
