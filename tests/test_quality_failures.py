"""A failing data-quality check fails its task with a message naming the check, the table
and the value found."""

from __future__ import annotations

import pytest

from include.sparkify import config
from include.sparkify.quality import column_mapping, keys_valid, not_empty, quality_checks
from tests.conftest import warehouse

REPO_SQL = config.SQL_DIR


@pytest.fixture
def schema(stack):
    with warehouse(stack) as conn:
        for path in sorted((REPO_SQL / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    return stack


def checks_by_name():
    from airflow.sdk import DAG

    with DAG("dq_probe", schedule=None, template_searchpath=[str(REPO_SQL)]) as dag:
        quality_checks()
    return {t.task_id.split(".", 1)[1]: t for t in dag.tasks}


def test_orphan_songplay_fails_with_the_figure(schema):
    op = checks_by_name()["songplay_users_exist"]
    with warehouse(schema) as conn:  # songplays holding one play, of a user that is not in users
        conn.execute("TRUNCATE songplays, users")
        conn.execute(
            "INSERT INTO songplays (songplay_id, start_time, user_id) "
            "VALUES ('probe-orphan', TIMESTAMP '2018-11-15 10:00:00', -42)"
        )
    try:
        op.sql = (REPO_SQL / "checks/songplay_users_exist.sql").read_text()
        with pytest.raises(Exception) as failure:
            op.execute(context={})
    finally:
        with warehouse(schema) as conn:
            conn.execute("DELETE FROM songplays WHERE songplay_id = 'probe-orphan'")
    message = str(failure.value)
    assert "every songplay's user exists in users (table songplays)" in message
    assert "songplays without a user: 1" in message


def test_empty_table_fails_naming_table_and_value(schema):
    with warehouse(schema) as conn:
        conn.execute("DROP TABLE IF EXISTS dq_probe_empty")
        conn.execute("CREATE TABLE dq_probe_empty (id INTEGER)")
    op = not_empty("dq_probe_empty")
    try:
        with pytest.raises(Exception) as failure:
            op.execute(context={})
    finally:
        with warehouse(schema) as conn:
            conn.execute("DROP TABLE dq_probe_empty")
    message = str(failure.value)
    assert "dq_probe_empty" in message and "row_count_check" in message and "'result': '0'" in message


def test_null_keys_fail_naming_column_and_count(schema):
    with warehouse(schema) as conn:
        conn.execute("DROP TABLE IF EXISTS dq_probe_keys")
        conn.execute("CREATE TABLE dq_probe_keys (artist_id VARCHAR(32))")
        conn.execute("INSERT INTO dq_probe_keys VALUES ('A'), ('A'), (NULL)")
    op = keys_valid("dq_probe_keys", column_mapping("artists"))
    try:
        with pytest.raises(Exception) as failure:
            op.execute(context={})
    finally:
        with warehouse(schema) as conn:
            conn.execute("DROP TABLE dq_probe_keys")
    message = str(failure.value)
    assert "dq_probe_keys" in message and "artist_id" in message
    assert "null_check" in message and "unique_check" in message
