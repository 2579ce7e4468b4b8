"""The data-quality gates (include/sparkify/quality.py) as built, without a warehouse: which
checks run on which table and in what order, and what a failing check says."""

from __future__ import annotations

from airflow.sdk import DAG

from include.sparkify import config
from include.sparkify.check_operators import ColumnChecks, RelationalChecks, TableCheck
from include.sparkify.quality import (
    RELATIONAL_CHECKS,
    REQUIRED_STAGED,
    WHOLE_TABLE_RELATIONAL,
    after_publish,
    column_mapping,
    one_published_row,
    quality_checks,
    run_column_checks,
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


def test_the_run_column_checks_read_each_tables_run_rows_and_its_staged_rows():
    check = run_column_checks()
    assert isinstance(check, ColumnChecks) and check.task_id == "column_checks"
    for table in STAR:  # the run's rows of audit_<table>: its key and the columns that must be set
        assert check.relations[table] == (f'"audit_{table}"', "run_id = {{ sql_string(run_id) }}")
        for column, checks in column_mapping(table).items():
            assert check.column_mapping[f"{table}.{column}"] == checks
    assert 'FROM "audit_songplays" WHERE (run_id = {{ sql_string(run_id) }})' in check.sql
    assert len(check.column_mapping) == sum(len(column_mapping(t)) for t in STAR) + sum(
        len(columns) for _, columns in REQUIRED_STAGED.values()
    )


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
    check = run_column_checks()
    relation, rows = check.relations["staging_events"]
    assert relation == '"staging_events"' and "run_window(dag_run).start_ms" in rows
    # song, artist and length only on NextSong events (other pages carry none)
    mapping = check.column_mapping
    assert mapping["staging_events.song"] == {"null_check": {"equal_to": 0, "partition_clause": "page = 'NextSong'"}}
    assert mapping["staging_events.page"] == {"null_check": {"equal_to": 0}}
    # the staged catalog: only in a run that rewrites songs from it (not every hour)
    assert check.relations["staging_songs"] == (
        '"staging_songs"',
        'EXISTS (SELECT 1 FROM "audit_songs" WHERE run_id = {{ sql_string(run_id) }})',
    )
    staged_songs = {key.split(".", 1)[1] for key in mapping if key.startswith("staging_songs.")}
    assert staged_songs == {"song_id", "title", "artist_id", "artist_name", "duration"}


def test_the_group_runs_the_table_and_column_checks_then_the_relational_ones():
    with DAG("quality_probe", schedule=None) as dag:
        group = quality_checks("Checks")
    assert group.group_id == "Checks"
    up = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert up == {
        "Checks.tables_not_empty": set(),
        "Checks.column_checks": set(),
        "Checks.relational_checks": {"Checks.tables_not_empty", "Checks.column_checks"},
    }
    assert set(dag.get_task("Checks.tables_not_empty").checks) == {f"{t}_not_empty" for t in STAR}
    relational = dag.get_task("Checks.relational_checks")
    assert isinstance(relational, RelationalChecks) and relational.checks == RELATIONAL_CHECKS
    assert relational.sql == [f"checks/{name}.sql" for name in RELATIONAL_CHECKS]
    assert relational.params["volume_min_ratio"] == config.VOLUME_MIN_RATIO  # a run's conf may override it


def test_the_daily_whole_table_checks_read_the_published_tables_not_the_audit_rows():
    with DAG("whole_probe", schedule=None) as dag:
        whole_table_checks("Whole")
    up = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
    assert up == {
        "Whole.tables_not_empty": set(),
        "Whole.column_checks": set(),
        "Whole.relational_checks": {"Whole.tables_not_empty", "Whole.column_checks"},
    }
    empty, columns = dag.get_task("Whole.tables_not_empty"), dag.get_task("Whole.column_checks")
    assert all(t.conn_id == config.REDSHIFT_CONN_ID for t in dag.tasks)
    for table in STAR:  # one published row tells "not empty", whatever the table's size
        assert f"SELECT '{table}' AS published_table FROM {one_published_row(table)}" in empty.table
        assert one_published_row(table) == f'(SELECT 1 AS present FROM "{table}" LIMIT 1) AS published'
        assert empty.check_tables[f"{table}_not_empty"] == table
        assert columns.relations[table] == (f'"{table}"', None)  # every row, no run's
        for column, checks in column_mapping(table).items():
            assert columns.column_mapping[f"{table}.{column}"] == checks
    assert "audit_" not in empty.table + columns.sql
    assert set(columns.relations) == set(STAR)
    assert dag.get_task("Whole.relational_checks").checks == WHOLE_TABLE_RELATIONAL
