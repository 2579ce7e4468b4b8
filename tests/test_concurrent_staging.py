"""Overlapping backfill runs stage the same table at the same moment. Seen in `make run`:
two runs' Stage_events both replaced the table's staging_manifest row and the second failed
on its primary key. Loads of the same staging table take turns (an advisory lock at the start
of the transaction, include/sql/staging/postgres/session.sql): both succeed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from dev.datagen import LOG_JSON_PATH
from include.sparkify import config, staging
from include.sparkify.staging.engine import Engine
from include.sparkify.window import Window
from tests.conftest import warehouse

BUCKET = "sparkify-concurrent-staging"


def test_two_runs_staging_the_same_table_take_turns_and_both_succeed(stack, monkeypatch):
    s3 = stack.s3_client()
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket=BUCKET, Key="log_json_path.json", Body=LOG_JSON_PATH.encode())
    for day in (15, 16):
        ts = int(datetime(2018, 11, day, 13, 30, tzinfo=UTC).timestamp() * 1000)
        event = f'{{"page": "Home", "ts": {ts}, "userId": "3", "sessionId": 1, "itemInSession": 0}}'
        s3.put_object(Bucket=BUCKET, Key=f"log_data/2018/11/2018-11-{day}-events.json", Body=event.encode())
    with warehouse(stack) as conn:
        for path in sorted((config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
        conn.execute("DELETE FROM staging_manifest WHERE staging_table = 'staging_events'")

    # Widen the window in which two loads both hold a replaced but uncommitted manifest row.
    record = Engine.record
    inside = []

    def slow_record(self, print_, result):
        record(self, print_, result)  # the manifest row replaced, not yet committed ...
        inside.append(self.run.run_id)
        time.sleep(1.0)  # ... for a second

    monkeypatch.setattr(Engine, "record", slow_record)
    errors, results = [], {}

    def stage(day: int) -> None:
        window = Window(datetime(2018, 11, day, 13, tzinfo=UTC), datetime(2018, 11, day, 14, tzinfo=UTC))
        try:
            results[day] = staging.stage(staging.EVENTS, window, run_id=f"backfill__{day}", bucket=BUCKET)
        except Exception as exc:  # noqa: BLE001 - any error of a worker thread is the test's result
            errors.append(exc)

    workers = [threading.Thread(target=stage, args=(day,)) for day in (15, 16)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert {day: r["rows"] for day, r in results.items()} == {15: 1, 16: 1}
    assert time.monotonic() - started >= 2.0  # one after the other: each held the manifest 1 s
    with warehouse(stack) as conn:
        assert (
            conn.execute("SELECT COUNT(*) FROM staging_manifest WHERE staging_table = 'staging_events'").fetchone()[0]
            == 1
        )
        keys = conn.execute(  # the two day files only: other tests stage other days of the month
            "SELECT source_key, COUNT(*) FROM staging_events WHERE source_key IN "
            "('log_data/2018/11/2018-11-15-events.json', 'log_data/2018/11/2018-11-16-events.json') "
            "GROUP BY source_key ORDER BY source_key"
        ).fetchall()
    assert keys == [("log_data/2018/11/2018-11-15-events.json", 1), ("log_data/2018/11/2018-11-16-events.json", 1)]
