"""A failing data-quality check fails its task with a message naming the check, the table
and the value found."""

from __future__ import annotations

import pytest

from include.sparkify import config
from include.sparkify.check_operators import ColumnChecks
from include.sparkify.quality import (
    column_mapping,
    one_published_row,
    quality_checks,
    relational_checks,
    tables_not_empty,
)
from tests.conftest import warehouse

REPO_SQL = config.SQL_DIR


@pytest.fixture
def schema(stack):
    with warehouse(stack) as conn:
        for path in sorted((REPO_SQL / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    return stack


def checks_by_name(build=quality_checks):
    """The tasks ``build`` makes, in a DAG that renders them as final_project does."""
    from airflow.sdk import DAG

    from include.sparkify.loads import sql_macros

    with DAG("dq_probe", schedule=None, template_searchpath=[str(REPO_SQL)], user_defined_macros=sql_macros()) as dag:
        build()
    return {t.task_id.split(".", 1)[-1]: t for t in dag.tasks}


def rendered(op, run_id: str):
    """The check as Airflow renders it for a full-load run ``run_id``."""
    from types import SimpleNamespace

    op.render_template_fields(
        {
            "run_id": run_id,
            "dag_run": SimpleNamespace(data_interval_start=None, data_interval_end=None),
            "params": dict(op.params),
        }
    )
    return op


def failure_of(op, schema, cleanup: str) -> str:
    """Runs the check, which must fail, then ``cleanup`` on the warehouse: the failure's message."""
    try:
        with pytest.raises(Exception) as failure:
            op.execute(context={})
    finally:
        with warehouse(schema) as conn:
            conn.execute(cleanup)
    return str(failure.value)


def test_a_runs_songplay_whose_user_will_not_exist_fails_with_the_figure(schema):
    """The run's audit rows hold a play of a user in neither users nor the run's users."""
    run_id = "probe__orphan"
    with warehouse(schema) as conn:
        conn.execute("DELETE FROM users WHERE user_id = -42")
        conn.execute(
            "INSERT INTO audit_songplays (run_id, songplay_id, start_time, user_id) "
            "VALUES (%s, 'probe-orphan', TIMESTAMP '2018-11-15 10:00:00', -42)",
            (run_id,),
        )
        conn.execute(  # another run's user -42 does not count
            "INSERT INTO audit_users (run_id, user_id, last_seen_at) VALUES ('probe__other', -42, TIMESTAMP '2018-11-15')"
        )
    # the check alone (the audit's task runs it with the others, which this state would fail)
    op = rendered(
        checks_by_name(lambda: relational_checks({"songplay_users_exist": "songplays"}))["relational_checks"], run_id
    )
    try:
        with pytest.raises(Exception) as failure:
            op.execute(context={})
        with warehouse(schema) as conn:  # the same play with its user among the run's users passes
            conn.execute(
                "INSERT INTO audit_users (run_id, user_id, last_seen_at) VALUES (%s, -42, TIMESTAMP '2018-11-15')",
                (run_id,),
            )
        op.execute(context={})
    finally:
        with warehouse(schema) as conn:
            conn.execute("DELETE FROM audit_songplays WHERE run_id LIKE 'probe__%'")
            conn.execute("DELETE FROM audit_users WHERE run_id LIKE 'probe__%'")
    message = str(failure.value)
    assert message.startswith("Test failed: songplay_users_exist")
    assert "every songplay of the run has its user once the run is published" in message
    assert "songplays of the run without a user: 1" in message


def test_the_run_column_checks_find_a_duplicate_key_in_the_runs_rows_of_one_table(schema):
    """The audit's column checks, as PostgreSQL runs their one query: run probe__keys wrote
    user 5 twice; another run's user 5 and a NULL key of another run do not count."""
    run_id = "probe__keys"
    with warehouse(schema) as conn:
        conn.execute(
            "INSERT INTO audit_users (run_id, user_id, last_seen_at) VALUES "
            "(%s, 5, TIMESTAMP '2018-11-15'), (%s, 5, TIMESTAMP '2018-11-16'), "
            "('probe__other', 5, TIMESTAMP '2018-11-15'), ('probe__other', NULL, NULL)",
            (run_id, run_id),
        )
    op = rendered(checks_by_name()["column_checks"], run_id)
    message = failure_of(op, schema, "DELETE FROM audit_users WHERE run_id LIKE 'probe__%'")
    found = {(r.table, r.name): (r.success, r.actual) for r in op.check_results}
    assert found[("users", "user_id.unique_check")] == (False, "1")
    assert found[("users", "user_id.null_check")] == (True, "0")
    assert found[("users", "last_seen_at.null_check")] == (True, "0")
    assert found[("songplays", "songplay_id.unique_check")] == (True, "0")  # the run wrote no songplay
    assert "Column: users.user_id" in message


def test_the_not_empty_checks_fail_only_for_the_table_that_would_be_empty(schema):
    """One task checks the five tables, each check counting only its own table after
    publishing. The run wrote songplays, users and artists but no songs; songs and artists
    are empty and time holds one published row: only songs would be empty."""
    run_id = "probe__empty_songs"
    with warehouse(schema) as conn:
        conn.execute("TRUNCATE songs, artists, time")
        conn.execute("DELETE FROM audit_songs WHERE run_id LIKE 'probe__%'")
        conn.execute(
            "INSERT INTO audit_songplays (run_id, songplay_id, start_time, user_id) "
            "VALUES (%s, 'probe-empty', TIMESTAMP '2018-11-15 10:00:00', 15)",
            (run_id,),
        )
        conn.execute(
            "INSERT INTO audit_users (run_id, user_id, last_seen_at) VALUES (%s, 15, TIMESTAMP '2018-11-15 10:00:00')",
            (run_id,),
        )
        conn.execute("INSERT INTO audit_artists (run_id, artist_id) VALUES (%s, 'ARPROBE')", (run_id,))
        conn.execute(
            "INSERT INTO time (start_time, hour, day, week, month, year, weekday) "
            "VALUES (TIMESTAMP '2018-11-15 10:00:00', 10, 15, 46, 11, 2018, 4)"
        )
    op = rendered(checks_by_name()["tables_not_empty"], run_id)
    try:
        with pytest.raises(Exception) as failure:
            op.execute(context={})
        first = {r.name: (r.table, r.success, r.actual) for r in op.check_results}
        with warehouse(schema) as conn:  # the run's one song: no table would be empty
            conn.execute("INSERT INTO audit_songs (run_id, song_id) VALUES (%s, 'SOPROBE')", (run_id,))
        op.execute(context={})
        second = {r.name: r.success for r in op.check_results}
    finally:
        with warehouse(schema) as conn:
            for table in ("songplays", "users", "songs", "artists"):
                conn.execute(f"DELETE FROM audit_{table} WHERE run_id LIKE 'probe__%'")
            conn.execute("TRUNCATE time")
    assert first == {
        "songplays_not_empty": ("songplays", True, "1"),
        "users_not_empty": ("users", True, "1"),
        "songs_not_empty": ("songs", False, "0"),
        "artists_not_empty": ("artists", True, "1"),
        "time_not_empty": ("time", True, "1"),
    }
    failed = str(failure.value).split("The following tests have failed:", 1)[1]
    assert "songs_not_empty" in failed and "'result': '0'" in failed
    assert not any(f"{t}_not_empty" in failed for t in ("songplays", "users", "artists", "time"))
    assert set(second.values()) == {True}


def test_the_daily_not_empty_check_fails_only_for_the_empty_table(schema):
    with warehouse(schema) as conn:
        conn.execute("DROP TABLE IF EXISTS dq_probe_empty, dq_probe_full")
        conn.execute("CREATE TABLE dq_probe_empty (id INTEGER)")
        conn.execute("CREATE TABLE dq_probe_full (id INTEGER)")
        conn.execute("INSERT INTO dq_probe_full VALUES (1), (2)")
    op = tables_not_empty(["dq_probe_empty", "dq_probe_full"], rows=one_published_row)
    message = failure_of(op, schema, "DROP TABLE dq_probe_empty, dq_probe_full")
    found = {r.name: (r.table, r.success, r.actual) for r in op.check_results}
    # the verdicts (1: true); the full table is read for one row, not counted
    assert found == {
        "dq_probe_empty_not_empty": ("dq_probe_empty", False, "0"),
        "dq_probe_full_not_empty": ("dq_probe_full", True, "1"),
    }
    failed = message.split("The following tests have failed:", 1)[1]
    assert "dq_probe_empty_not_empty" in failed and "dq_probe_full" not in failed


def test_whole_table_column_checks_count_null_and_duplicate_keys(schema):
    with warehouse(schema) as conn:
        conn.execute("DROP TABLE IF EXISTS dq_probe_keys")
        conn.execute("CREATE TABLE dq_probe_keys (artist_id VARCHAR(32))")
        conn.execute("INSERT INTO dq_probe_keys VALUES ('A'), ('A'), ('B'), (NULL)")
    op = ColumnChecks(
        task_id="column_checks",
        conn_id=config.REDSHIFT_CONN_ID,
        relations={"dq_probe_keys": ('"dq_probe_keys"', None)},
        column_mapping={"dq_probe_keys.artist_id": column_mapping("artists")["artist_id"]},
    )
    message = failure_of(op, schema, "DROP TABLE dq_probe_keys")
    found = {(r.table, r.name): (r.success, r.actual) for r in op.check_results}
    # one NULL; three keys set, two of them distinct
    assert found == {
        ("dq_probe_keys", "artist_id.null_check"): (False, "1"),
        ("dq_probe_keys", "artist_id.unique_check"): (False, "1"),
    }
    assert "Column: dq_probe_keys.artist_id" in message
