"""Write-audit-publish on the real data set: a run whose audit fails publishes nothing and
leaves the published tables byte-identical, keeping its audit rows; the volume checks catch
a truncated day file and a source delivered twice; a renamed source key fails the audit;
a reader never sees part of a publish.

Each test starts from the full load (tests/real_data.py) and damages one day file in the
bucket for one hourly run, putting the real file back afterwards. Expected figures come
from the JSON lines the test uploads."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest

from tests import expected as ex
from tests.conftest import warehouse
from tests.real_data import AUDIT_TABLES, TABLES, checksums, fetch, real_bucket_path

pytestmark = pytest.mark.e2e

HOUR = datetime(2018, 11, 15, 16)  # the busiest hour of the data set: 54 plays
DAY_KEY = f"log_data/{HOUR:%Y/%m}/{HOUR:%Y-%m-%d}-events.json"
PUBLISHED = [*TABLES, "load_volumes"]  # what a failed run must leave exactly as it was


def hour_ms(hour: datetime) -> int:
    return int(hour.replace(tzinfo=UTC).timestamp() * 1000)


def day_lines() -> list[str]:
    return [line for line in (real_bucket_path(None) / DAY_KEY).read_text(encoding="utf-8").split("\n") if line]


def is_play(event: dict) -> bool:
    return event["page"] == "NextSong" and bool(event["userId"])


def plays_of(lines: list[str], start: datetime, end: datetime) -> int:
    """Distinct NextSong events of [start, end) in ``lines``, counted from the JSON."""
    events = [json.loads(line) for line in lines]
    return len(
        {
            (e["userId"], e["sessionId"], e["itemInSession"], e["ts"])
            for e in events
            if is_play(e) and ex.in_window(e, hour_ms(start), hour_ms(end))
        }
    )


@contextmanager
def day_file(stack, lines: list[str]):
    """The bucket's day file of HOUR replaced by ``lines`` for the duration."""
    s3 = stack.s3_client()
    s3.put_object(Bucket=stack.bucket, Key=DAY_KEY, Body="\n".join(lines).encode())
    try:
        yield
    finally:
        s3.put_object(Bucket=stack.bucket, Key=DAY_KEY, Body=(real_bucket_path(None) / DAY_KEY).read_bytes())


def run_hour(dags, conf: dict | None = None):
    """The hourly run of HOUR, without retries (a failed check fails the run at once)."""
    from dev.dagtest import run_dag_test

    dag = dags["final_project"]
    retries = {t.task_id: t.retries for t in dag.tasks}
    for task in dag.tasks:
        task.retries = 0
    try:
        return run_dag_test(dag, (HOUR + timedelta(hours=1)).replace(tzinfo=UTC), conf)
    finally:
        for task in dag.tasks:
            task.retries = retries[task.task_id]


def rerun_load(dr, table: str) -> dict:
    """The load of ``table`` run again for the run ``dr``, as a retry or a clear runs it (a
    task of its own: rendering templates changes the task)."""
    from airflow.sdk import DAG

    from include.sparkify import config
    from include.sparkify.loads import load_table, sql_macros

    with DAG("wap_rerun", schedule=None, template_searchpath=[str(config.SQL_DIR)], user_defined_macros=sql_macros()):
        task = load_table(f"Load_{table}", table)
    context = {"run_id": dr.run_id, "dag_run": dr, "params": {}}
    task.render_template_fields(context)
    return task.execute(context)


def states(dr) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in dr.get_task_instances()}


def audit_rows(stack, run_id: str) -> dict[str, int]:
    return {t: fetch(stack, f"SELECT COUNT(*) FROM {t} WHERE run_id = '{run_id}'")[0][0] for t in AUDIT_TABLES}


def seed_history(stack, rows: int, days: int = 7) -> None:
    """Published runs of HOUR's hour of day on the ``days`` days before it, ``rows`` songplays each."""
    with warehouse(stack) as conn:
        for back in range(1, days + 1):
            start = HOUR - timedelta(days=back)
            conn.execute(
                "INSERT INTO load_volumes VALUES (%s, 'songplays', 'interval', %s, %s, %s, %s)",
                (f"history__{start:%Y-%m-%dT%H}", start, start + timedelta(hours=1), rows, start),
            )


def failed_checks(stack, run_id: str) -> dict[str, str]:
    rows = fetch(
        stack,
        f"SELECT check_name, observed_value FROM dq_history WHERE run_id = '{run_id}' AND NOT passed",
    )
    return dict(rows)


def assert_failed_without_publishing(dr, task: str, check: str, before: dict, stack) -> None:
    """The run failed in its audit task ``task``, ``check`` among the checks that failed, and
    published nothing."""
    found = states(dr)
    assert dr.state == "failed"
    assert found[f"Run_data_quality_checks.{task}"] == "failed", found
    assert check in failed_checks(stack, dr.run_id)
    assert found["Publish"] == "upstream_failed" and found["Stop_execution"] == "upstream_failed"
    assert checksums(stack, PUBLISHED) == before  # byte for byte: nothing published


def test_a_truncated_day_file_fails_the_volume_check_publishes_nothing_and_keeps_its_audit_rows(full_load, dags, stack):
    lines = day_lines()
    full_hour = plays_of(lines, HOUR, HOUR + timedelta(hours=1))
    assert full_hour == 54
    # The day file as a writer that stopped 25 minutes into the hour left it.
    cut = [line for line in lines if json.loads(line)["ts"] < hour_ms(HOUR + timedelta(minutes=25))]
    partial = plays_of(cut, HOUR, HOUR + timedelta(hours=1))
    assert 0 < partial < 0.6 * full_hour
    seed_history(stack, full_hour)  # a week of this hour at its full count
    before = checksums(stack, PUBLISHED)
    conf = {"volume_min_baseline": 10}  # the real data's hours are small: judge them anyway

    with day_file(stack, cut):
        dr = run_hour(dags, conf)
        assert_failed_without_publishing(dr, "relational_checks", "songplays_volume", before, stack)
        figures = failed_checks(stack, dr.run_id)["songplays_volume"]
        assert f"songplays of the run: {partial}, baseline: {full_hour}.0 over 7 earlier run(s)" in figures
        # kept for inspection: the run's rows, as the JSON says; a rerun of its load replaces them
        assert audit_rows(stack, dr.run_id)["audit_songplays"] == partial
        rewrite = rerun_load(dr, "songplays")
        assert (rewrite["replaced"], rewrite["written"]) == (partial, partial)
        assert audit_rows(stack, dr.run_id)["audit_songplays"] == partial
        assert checksums(stack, PUBLISHED) == before
    failed = dr

    # The whole day file back: the next run passes, publishes and leaves no audit row behind;
    # the failed run's rows wait until discarded (docs/operations.md).
    dr = run_hour(dags, conf)
    assert dr.state == "success", states(dr)
    assert audit_rows(stack, dr.run_id) == dict.fromkeys(AUDIT_TABLES, 0)
    assert audit_rows(stack, failed.run_id)["audit_songplays"] == partial
    volumes = fetch(stack, f"SELECT loaded_table, rows_loaded FROM load_volumes WHERE run_id = '{dr.run_id}'")
    assert dict(volumes)["songplays"] == full_hour
    after = checksums(stack, TABLES)
    assert after == {t: before[t] for t in TABLES}  # the hour was published already by the full load


def test_a_source_delivered_twice_fails_the_duplicate_check(full_load, dags, stack):
    lines = day_lines()
    before = checksums(stack, PUBLISHED)
    with day_file(stack, lines + lines):
        dr = run_hour(dags)
        assert_failed_without_publishing(dr, "relational_checks", "staged_events_duplicates", before, stack)
    staged = sum(
        1
        for e in map(json.loads, lines)
        if is_play(e) and ex.in_window(e, hour_ms(HOUR), hour_ms(HOUR + timedelta(hours=1)))
    )
    figures = failed_checks(stack, dr.run_id)["staged_events_duplicates"]
    assert f"NextSong events staged in the window: {2 * staged}, distinct: {staged}" in figures


def test_a_renamed_source_key_fails_the_audit(full_load, dags, stack):
    """Upstream renames ``level`` to ``subscription``: every staged event of the day has no
    level, which the star schema needs (songplays.level, users.level)."""
    renamed = []
    for line in day_lines():
        record = json.loads(line)
        record["subscription"] = record.pop("level")
        renamed.append(json.dumps(record))
    before = checksums(stack, PUBLISHED)
    with day_file(stack, renamed):
        dr = run_hour(dags)
        assert_failed_without_publishing(dr, "column_checks", "level.null_check", before, stack)
    events_in_hour = sum(
        1 for line in renamed if ex.in_window(json.loads(line), hour_ms(HOUR), hour_ms(HOUR + timedelta(hours=1)))
    )
    failures = fetch(
        stack,
        "SELECT column_name, observed_value FROM dq_history "
        f"WHERE run_id = '{dr.run_id}' AND check_name LIKE '%.null_check' AND NOT passed",
    )
    assert failures == [("level", str(events_in_hour))]
    # and the drift is on record: the new key and the lost one, in every record of the day file
    assert drift_rows(stack, dr.run_id) == {
        ("subscription", "unknown", len(renamed)),
        ("level", "missing", len(renamed)),
    }


def drift_rows(stack, run_id: str) -> set[tuple]:
    return set(
        fetch(
            stack,
            f"SELECT key_name, kind, records FROM staging_drift WHERE run_id = '{run_id}' "
            "AND staging_table = 'staging_events'",
        )
    )


def test_a_new_upstream_key_is_reported_as_drift_and_the_run_still_publishes(full_load, dags, stack):
    """Upstream adds ``mood`` to the events of the afternoon: staging maps nothing to it. The
    run warns (staging_drift, the asset events, an alert) and publishes as usual."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    afternoon = hour_ms(HOUR.replace(hour=12))
    lines, added = [], 0
    for line in day_lines():
        record = json.loads(line)
        if record["ts"] >= afternoon:
            record["mood"] = "upbeat"
            added += 1
        lines.append(json.dumps(record))
    assert 0 < added < len(lines)
    with day_file(stack, lines):
        dr = run_hour(dags)
    assert dr.state == "success", states(dr)
    assert drift_rows(stack, dr.run_id) == {("mood", "unknown", added)}
    read = fetch(stack, f"SELECT DISTINCT records_read FROM staging_drift WHERE run_id = '{dr.run_id}'")
    assert read == [(len(lines),)]
    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == dr.run_id).all()
    extras = {e.extra["table"]: e.extra for e in events}
    assert set(extras) == set(TABLES)
    drift = extras["songplays"]["staged"]["staging_events"]["drift"]
    assert drift == {"records": len(lines), "keys": {"mood": {"kind": "unknown", "records": added}}, "warn": True}


# ---------------------------------------------------------------- a reader during a publish
def publish_task(run_id: str):
    """The Publish task of final_project for songplays and users, rendered for ``run_id`` as a full load."""
    from airflow.sdk import DAG

    from include.sparkify import config
    from include.sparkify.loads import sql_macros
    from include.sparkify.publish import publish

    with DAG("wap_probe", schedule=None, template_searchpath=[str(config.SQL_DIR)], user_defined_macros=sql_macros()):
        task = publish("Publish", tables=("songplays", "users"))
    context = {
        "run_id": run_id,
        "dag_run": SimpleNamespace(data_interval_start=None, data_interval_end=None),
        "ti": SimpleNamespace(xcom_pull=lambda task_ids: []),
        "outlet_events": defaultdict(lambda: SimpleNamespace(extra={}, add_partitions=lambda keys: None)),
        "params": {},
    }
    task.render_template_fields(context)
    return task, context


def test_a_reader_never_sees_part_of_a_publish(full_load, stack):
    """A run bringing 50 new users and a play of each. While its publish is half done (held
    just before it records its volumes, every table already applied) a reader either waits
    or sees nothing of it; once it commits, a reader sees all of it."""
    run_id = "wap_probe__reader"
    count = "SELECT (SELECT COUNT(*) FROM songplays), (SELECT COUNT(*) FROM users)"
    (plays_before, users_before) = fetch(stack, count)[0]
    with warehouse(stack) as conn:
        for n in range(50):
            user = 900_000 + n
            conn.execute(
                "INSERT INTO audit_users VALUES (%s, %s, 'Probe', 'Reader', 'F', 'free', TIMESTAMP '2018-11-30 10:00')",
                (run_id, user),
            )
            conn.execute(
                "INSERT INTO audit_songplays VALUES "
                "(%s, %s, TIMESTAMP '2018-11-30 10:00', %s, 'free', NULL, NULL, 1, 'here', 'probe')",
                (run_id, f"probe{n:027d}", user),
            )
    task, context = publish_task(run_id)
    blocker = psycopg.connect(stack.warehouse_dsn())
    blocker.execute("LOCK TABLE load_volumes")  # held: the publish stops just before its volumes
    outcome: dict = {}

    def publish() -> None:
        try:
            outcome["published"] = task.execute(context)
        except Exception as exc:  # noqa: BLE001 - any error of the thread is surfaced by the assertion below
            outcome["error"] = exc

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        from dev.stack import wait_for

        def publish_waits() -> bool:
            rows = fetch(
                stack,
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'DELETE FROM load_volumes%'",
            )
            return rows[0][0] == 1

        wait_for(publish_waits, timeout=60, what="the publish to reach its volumes")
        # Mid-publish: a reader cannot see the applied tables, nor the audit rows being
        # deleted; it waits for the commit (here it gives up after 300 ms instead).
        for query in (count, f"SELECT COUNT(*) FROM audit_songplays WHERE run_id = '{run_id}'"):
            with psycopg.connect(stack.warehouse_dsn()) as reader:
                reader.execute("SET lock_timeout = '300ms'")
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    reader.execute(query)
    finally:
        blocker.rollback()
        blocker.close()
        publisher.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    assert fetch(stack, count)[0] == (plays_before + 50, users_before + 50)
    assert audit_rows(stack, run_id) == dict.fromkeys(AUDIT_TABLES, 0)
    published = outcome["published"]
    assert (published["users"]["rows_inserted"], published["songplays"]["rows_inserted"]) == (50, 50)
