"""The data-quality gates (include/sparkify/quality.py) as built, without a warehouse: which
checks run on which table and in what order, and what a failing check says."""

from __future__ import annotations

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException

from include.sparkify import config
from include.sparkify.quality import (
    RELATIONAL_CHECKS,
    WHOLE_TABLE_RELATIONAL,
    ColumnCheck,
    RelationalCheck,
    TableCheck,
    after_publish,
    column_mapping,
    keys_valid,
    not_empty,
    quality_checks,
    required_staged,
    tables_not_empty,
    whole_table_checks,
)

NO_NULLS_NO_DUPLICATES = {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}
NO_NULLS = {"null_check": {"equal_to": 0}}
STAR = ("songplays", "users", "songs", "artists", "time")


def test_column_mapping_checks_the_key_and_the_columns_that_must_be_set():
    assert column_mapping("songplays") == {
        "songplay_id": NO_NULLS_NO_DUPLICATES,
        "start_time": NO_NULLS,
        "user_id": NO_NULLS,
    }
    assert column_mapping("time") == {
        "start_time": NO_NULLS_NO_DUPLICATES,
        **dict.fromkeys(("hour", "day", "week", "month", "year", "weekday"), NO_NULLS),
    }
    assert column_mapping("artists") == {"artist_id": NO_NULLS_NO_DUPLICATES}
    assert column_mapping("users") == {"user_id": NO_NULLS_NO_DUPLICATES, "last_seen_at": NO_NULLS}


def test_every_relational_check_has_its_sql_file():
    for name in RELATIONAL_CHECKS:
        assert (config.SQL_DIR / "checks" / f"{name}.sql").is_file(), name
    for name in WHOLE_TABLE_RELATIONAL:
        assert (config.SQL_DIR / "checks" / f"{name}.sql").is_file(), name
    assert {p.stem for p in (config.SQL_DIR / "checks").glob("*.sql")} == {*RELATIONAL_CHECKS, *WHOLE_TABLE_RELATIONAL}


def test_the_operators_check_the_quoted_table_on_the_warehouse_connection():
    empty = not_empty("users")
    assert isinstance(empty, TableCheck) and empty.task_id == "users_not_empty"
    assert empty.table == '"users"' and empty.conn_id == config.REDSHIFT_CONN_ID
    assert empty.checks == {"row_count_check": {"check_statement": "COUNT(*) > 0"}}
    keys = keys_valid("users", column_mapping("users"), task_id="k")
    assert isinstance(keys, ColumnCheck) and keys.task_id == "k" and keys.table == '"users"'
    assert keys.partition_clause is None


def test_the_audit_checks_read_the_runs_rows_and_record_the_published_table():
    keys = keys_valid("songplays", column_mapping("songplays"), audit=True)
    assert keys.table == '"audit_songplays"' and keys.checked_table == "songplays"
    assert keys.partition_clause == "run_id = {{ sql_string(run_id) }}"
    assert 'FROM "audit_songplays" WHERE run_id = {{ sql_string(run_id) }}' in keys.sql


def test_not_empty_after_publishing_reads_the_runs_rows_and_at_most_one_published_row():
    run_rows = 'SELECT "{key}" FROM "audit_{table}" WHERE run_id = {{{{ sql_string(run_id) }}}}'
    # upserted: what is published stays, so the run may bring no row (a quiet hour); one
    # published row tells "not empty" without scanning the table (it grows every hour)
    assert after_publish("users") == (
        "("
        + run_rows.format(key="user_id", table="users")
        + ' UNION ALL SELECT "user_id" FROM (SELECT "user_id" FROM "users" LIMIT 1) AS published) AS after_publish'
    )
    # a catalog table: the run's rows replace it if it wrote any, else the published rows stay
    songs = run_rows.format(key="song_id", table="songs")
    assert after_publish("songs") == (
        f'({songs} UNION ALL SELECT "song_id" FROM (SELECT "song_id" FROM "songs" LIMIT 1) AS published '
        f"WHERE NOT EXISTS ({songs})) AS after_publish"
    )


def test_one_task_checks_every_table_not_empty_after_publishing_each_with_its_own_result():
    check = tables_not_empty(STAR)
    assert isinstance(check, TableCheck) and check.task_id == "tables_not_empty"
    assert set(check.checks) == {f"{t}_not_empty" for t in STAR}
    for table in STAR:
        # each check counts its own table's rows after publishing, nothing else
        assert check.checks[f"{table}_not_empty"] == {
            "check_statement": "COUNT(*) > 0",
            "partition_clause": f"published_table = '{table}'",
        }
        assert f"SELECT '{table}' AS published_table FROM {after_publish(table)}" in check.table
    check.checks["songs_not_empty"].update(result="0", success=False)
    for name in set(check.checks) - {"songs_not_empty"}:
        check.checks[name].update(result="1", success=True)
    results = {r.name: r for r in check._build_check_results([("songs_not_empty", 0)])}
    assert results["songs_not_empty"].table == "songs" and not results["songs_not_empty"].success
    assert results["time_not_empty"].table == "time" and results["time_not_empty"].success


def test_staged_columns_the_star_schema_needs_are_checked_in_the_runs_window():
    events = required_staged("staging_events")
    assert events.table == '"staging_events"' and events.checked_table == "staging_events"
    assert "run_window(dag_run).start_ms" in events.partition_clause
    # song, artist and length only on NextSong events (other pages carry none)
    assert events.column_mapping["song"] == {"null_check": {"equal_to": 0, "partition_clause": "page = 'NextSong'"}}
    assert events.column_mapping["page"] == {"null_check": {"equal_to": 0}}
    # the staged catalog: only in a run that rewrites songs from it (not every hour)
    songs = required_staged("staging_songs")
    assert songs.partition_clause == 'EXISTS (SELECT 1 FROM "audit_songs" WHERE run_id = {{ sql_string(run_id) }})'
    assert set(songs.column_mapping) == {"song_id", "title", "artist_id", "artist_name", "duration"}


def test_the_group_runs_not_empty_per_table_and_staged_column_checks_then_the_relational_ones():
    with DAG("quality_probe", schedule=None) as dag:
        group = quality_checks("Checks")
    assert group.group_id == "Checks"
    up = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert up["Checks.tables_not_empty"] == set()
    assert set(dag.get_task("Checks.tables_not_empty").checks) == {f"{t}_not_empty" for t in STAR}
    for table in STAR:
        assert up[f"Checks.{table}_keys"] == set()
        assert dag.get_task(f"Checks.{table}_keys").table == f'"audit_{table}"'
    staged = {"Checks.staging_events_required_columns", "Checks.staging_songs_required_columns"}
    assert all(up[t] == set() for t in staged)
    first = {"Checks.tables_not_empty"} | {f"Checks.{table}_keys" for table in STAR} | staged
    for name, table in RELATIONAL_CHECKS.items():
        task = dag.get_task(f"Checks.{name}")
        assert isinstance(task, RelationalCheck) and task.checked_table == table
        assert task.sql == f"checks/{name}.sql"
        assert up[f"Checks.{name}"] == first
        assert task.params["volume_min_ratio"] == config.VOLUME_MIN_RATIO  # a run's conf may override it
    assert len(dag.tasks) == 1 + len(STAR) + len(staged) + len(RELATIONAL_CHECKS)


def test_a_failing_column_check_names_its_table():
    check = keys_valid("songs", column_mapping("songs"), audit=True)
    check.retry_on_failure = True
    with pytest.raises(AirflowException, match=r"^Table songs: Test failed: 2 duplicate song_id$"):
        check._raise_exception("Test failed: 2 duplicate song_id")


def test_a_relational_check_reports_its_figures_as_the_value_found():
    check = RelationalCheck(task_id="songplays_match_staging", conn_id="x", sql="select 1", checked_table="songplays")
    [passed] = check._build_check_results([True, 120, 120])
    assert (passed.name, passed.table, passed.success, passed.actual) == (
        "songplays_match_staging",
        "songplays",
        True,
        "120; 120",
    )
    [failed] = check._build_check_results({"ok": False, "songplays": 118, "events": 120})
    assert (failed.success, failed.actual) == (False, "118; 120")
    [only_flag] = check._build_check_results([True])
    assert only_flag.actual == "[True]"  # no figure: the provider's own text stays


def test_the_daily_whole_table_checks_read_the_published_tables_not_the_audit_rows():
    with DAG("whole_probe", schedule=None) as dag:
        whole_table_checks("Whole")
    tasks = {t.task_id.split(".", 1)[1]: t for t in dag.tasks}
    assert set(tasks) == {f"{t}_not_empty" for t in STAR} | {f"{t}_keys" for t in STAR} | {
        "published_songplay_users_exist"
    }
    for table in STAR:
        assert tasks[f"{table}_not_empty"].table == f'"{table}"'
        keys = tasks[f"{table}_keys"]
        assert keys.table == f'"{table}"' and keys.partition_clause is None
        assert keys.column_mapping == column_mapping(table)
        assert tasks["published_songplay_users_exist"].task_id in keys.downstream_task_ids
