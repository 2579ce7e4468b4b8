"""Under a real scheduler (LocalExecutor, metadata on PostgreSQL): a create_tables
run emits the schema asset, which produces an asset-triggered final_project run that
succeeds and loads the generated sample completely."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

import pytest

from dev.airflow_api import AirflowAPI
from include.sparkify.migrations import MIGRATIONS_DIR
from tests import expected as ex
from tests.conftest import warehouse

pytestmark = pytest.mark.scheduler


def test_create_tables_triggers_an_asset_run_that_succeeds(
    scheduler_stack, scheduler_api, asset_triggered_run, full_load_analytics
):
    _stack, data = scheduler_stack
    api = scheduler_api
    run = asset_triggered_run
    first = api.runs("create_tables")[0]
    assert first["state"] == "success"
    schema_events = api.asset_events(source_dag_id="create_tables", source_run_id=first["dag_run_id"])
    assert [e["name"] for e in schema_events] == ["sparkify_warehouse_schema"]
    assert schema_events[0]["extra"]["schema_version"] == len(list(MIGRATIONS_DIR.glob("*.sql")))
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances("final_project", run["dag_run_id"])}
    assert run["state"] == "success", states
    assert run["data_interval_start"] is None  # no interval: a full load
    assert all(state == "success" for state in states.values())
    assert len(states) == 13  # begin, 2 staging, 5 loads, 3 check tasks, publish, stop

    events, songs = ex.read_events(data), ex.read_songs(data)
    plays = ex.songplays(events, songs)
    # The tables as the full load left them (read before any test changed them).
    assert full_load_analytics["counts"] == {"songplays": len(plays), "users": len(ex.users(events))}
    assert len(plays) > 0
    # No scheduled run: the schedule ends with the sample data (SPARKIFY_END_DATE).
    assert not [r for r in api.runs("final_project") if r["run_type"] == "scheduled"]


def test_parallel_backfill_gives_the_serial_result(scheduler_stack, scheduler_api, parallel_backfill):
    """A backfill with max_active_runs=4 across midnight (Airflow applies the backfill's
    max_active_runs, not the DAG's, so its runs may overlap and stage two day files side by
    side): the tables equal what loading those hours one by one gives."""
    stack, data = scheduler_stack
    runs, start, end = parallel_backfill["runs"], parallel_backfill["start"], parallel_backfill["end"]
    assert len(runs) == 8 and all(r["state"] == "success" for r in runs), [
        (r["logical_date"], r["state"]) for r in runs
    ]
    recorded = scheduler_api.backfill(parallel_backfill["backfill"]["id"])
    assert recorded["max_active_runs"] == 4 and recorded["completed_at"]
    assert {r["dag_run_id"] for r in runs} == {
        r["dag_run_id"]
        for r in scheduler_api.runs("final_project", run_type="backfill")
        if start <= datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")) < end
    }

    events, songs = ex.read_events(data), ex.read_songs(data)
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    window = [e for e in events if lo <= e["ts"] < hi]
    plays = ex.songplays(window, songs)
    assert plays
    with warehouse(stack) as conn:
        ids = {r[0] for r in conn.execute("SELECT songplay_id FROM songplays").fetchall()}
        users = dict(conn.execute("SELECT user_id, level FROM users").fetchall())
        times = conn.execute('SELECT COUNT(*) FROM "time"').fetchone()[0]
    assert ids == set(plays)
    assert users == {uid: u["level"] for uid, u in ex.users(window).items()}
    assert times == len(ex.time_table(plays))


def test_no_secret_in_logs_rendered_fields_or_xcom(scheduler_stack, asset_triggered_run, parallel_backfill):
    """Every log, rendered template field and XCom of the full load and the backfill is free of
    the stack's secrets (warehouse and metadata passwords, AWS secret and key id, the admin
    password of the UI, Airflow's fernet key, JWT secret and session key)."""
    from dev.stack import AIRFLOW_DB_PASSWORD, AWS_KEY_ID, AWS_SECRET, PG_PASSWORD

    stack, _ = scheduler_stack
    secrets = [PG_PASSWORD, stack.etl_password(), AIRFLOW_DB_PASSWORD, AWS_SECRET, AWS_KEY_ID, stack.admin_password()]
    secrets += stack.airflow_keys().values()  # fernet key, JWT secret, the API's session key
    assert all(secrets)
    api = AirflowAPI(stack.api_url, "admin", stack.admin_password())
    log_files = [p for p in (stack.airflow_home / "logs").rglob("*") if p.is_file()]
    log_files += [p for p in stack.log_dir.glob("*.log") if p.name != "postgres.log"]
    assert len(log_files) > 40
    for path in log_files:
        text = path.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {path}"

    checked_fields = checked_xcoms = 0
    for dag_id in ("create_tables", "final_project"):
        for run in api.runs(dag_id):
            for ti in api.task_instances(dag_id, run["dag_run_id"]):
                dumped = json.dumps(ti.get("rendered_fields") or {})
                checked_fields += bool(ti.get("rendered_fields"))
                assert not any(secret in dumped for secret in secrets), (dag_id, ti["task_id"])
                base = (
                    f"/api/v2/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}/taskInstances/"
                    f"{ti['task_id']}/xcomEntries"
                )
                for entry in api.get(base)["xcom_entries"]:
                    value = api.get(f"{base}/{quote(entry['key'], safe='')}", deserialize="true")
                    checked_xcoms += 1
                    assert not any(secret in json.dumps(value) for secret in secrets), (dag_id, ti["task_id"])
    assert checked_fields > 20 and checked_xcoms > 10


def test_a_bad_param_is_rejected_with_a_clear_error(scheduler_stack):
    stack, _ = scheduler_stack
    api = AirflowAPI(stack.api_url, "admin", stack.admin_password())
    with pytest.raises(RuntimeError) as failure:
        api.trigger("final_project", conf={"restage_songs": "yes please"})
    assert "restage_songs" in str(failure.value) and "HTTP 400" in str(failure.value)
