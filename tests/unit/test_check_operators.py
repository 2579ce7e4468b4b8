"""The check operators (include/sparkify/check_operators.py) without a warehouse: their
queries run on SQLite (the same SQL: sums, counts, subqueries, UNION ALL) through a
stand-in hook, so what each check finds is computed here from the rows put in."""

from __future__ import annotations

import sqlite3

import pytest
from airflow.providers.common.sql.hooks.handlers import fetch_one_handler
from airflow.sdk.exceptions import AirflowException

from include.sparkify.check_operators import ColumnChecks, RelationalChecks, TableCheck
from include.sparkify.monitoring import RecordedCheck

NO_NULLS_NO_DUPLICATES = {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}}


class SQLiteHook:
    """What the operators ask of a DbApiHook, answered by an in-memory SQLite database."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.statements: list[str] = []

    def get_records(self, sql):
        self.statements.append(sql)
        return self.conn.execute(sql).fetchall()

    def run(self, sql, handler=None, return_last=True):
        assert isinstance(sql, list) and handler is fetch_one_handler and not return_last
        self.statements += sql
        return [handler(self.conn.execute(statement)) for statement in sql]


@pytest.fixture
def db():
    conn = sqlite3.connect(":memory:")
    conn.executescript(
        """
        CREATE TABLE audit_songs (run_id TEXT, song_id TEXT);
        CREATE TABLE audit_users (run_id TEXT, user_id INTEGER, last_seen_at TEXT);
        -- run r1: a duplicate song and a user without last_seen_at; run r2's rows are not r1's
        INSERT INTO audit_songs VALUES ('r1', 'SO1'), ('r1', 'SO1'), ('r1', 'SO2'), ('r2', NULL);
        INSERT INTO audit_users VALUES ('r1', 7, NULL), ('r1', 8, '2018-11-01'), ('r2', NULL, NULL);
        """
    )
    yield conn
    conn.close()


def column_checks(conn, **mapping_override) -> tuple[ColumnChecks, SQLiteHook]:
    mapping = {
        "songs.song_id": NO_NULLS_NO_DUPLICATES,
        "users.user_id": NO_NULLS_NO_DUPLICATES,
        "users.last_seen_at": {"null_check": {"equal_to": 0, "partition_clause": "user_id > 7"}},
        **mapping_override,
    }
    check = ColumnChecks(
        task_id="column_checks",
        relations={"songs": ('"audit_songs"', "run_id = 'r1'"), "users": ('"audit_users"', "run_id = 'r1'")},
        column_mapping=mapping,
    )
    hook = SQLiteHook(conn)
    check.get_db_hook = lambda: hook
    return check, hook


def test_each_column_is_checked_in_its_own_tables_rows_and_recorded_for_that_table(db):
    check, hook = column_checks(db)
    with pytest.raises(AirflowException) as failure:
        check.execute(context={})
    assert len(hook.statements) == 1  # one query for every check
    found = {(r.table, r.name): (r.column, r.success, r.actual) for r in check.check_results}
    assert found == {
        # r1's songs: SO1 twice, SO2 (r2's NULL song is not r1's)
        ("songs", "song_id.null_check"): ("song_id", True, "0"),
        ("songs", "song_id.unique_check"): ("song_id", False, "1"),
        # r1's users: 7 and 8 (r2's NULL user is not r1's); last_seen_at only where user_id > 7
        ("users", "user_id.null_check"): ("user_id", True, "0"),
        ("users", "user_id.unique_check"): ("user_id", True, "0"),
        ("users", "last_seen_at.null_check"): ("last_seen_at", True, "0"),
    }
    message = str(failure.value)
    assert "songs.song_id" in message and "unique_check" in message
    assert "users.user_id" not in message.split("have failed:", 1)[1]


def test_a_checks_own_clause_is_added_to_its_tables_clause(db):
    # without the check's clause, user 7's missing last_seen_at is found
    check, _ = column_checks(db, **{"users.last_seen_at": {"null_check": {"equal_to": 0}}})
    with pytest.raises(AirflowException):
        check.execute(context={})
    found = {r.name: (r.success, r.actual) for r in check.check_results if r.table == "users"}
    assert found["last_seen_at.null_check"] == (False, "1")


def test_column_checks_all_passing_raise_nothing(db):
    db.execute("DELETE FROM audit_songs WHERE song_id = 'SO1'")
    check, _ = column_checks(db)
    check.execute(context={})
    assert all(r.success for r in check.check_results) and len(check.check_results) == 5


def test_each_clause_is_read_whole_and_the_operators_own_applies_too(db):
    db.execute("INSERT INTO audit_users VALUES ('r2', 7, NULL)")  # another run's user 7
    either = {"null_check": {"equal_to": 0, "partition_clause": "user_id > 7 OR user_id = 7"}}
    check, _ = column_checks(db, **{"users.last_seen_at": either})
    with pytest.raises(AirflowException):
        check.execute(context={})
    # r1's user 7 alone: unbracketed, "run_id = 'r1' AND user_id > 7 OR user_id = 7" reads r2's too
    found = {(r.table, r.name): r.actual for r in check.check_results}
    assert found[("users", "last_seen_at.null_check")] == "1"
    # the operator's own clause narrows every relation: here to users above 7, whose dates are set
    narrowed = ColumnChecks(
        task_id="c",
        relations={"users": ('"audit_users"', "run_id = 'r1'")},
        column_mapping={"users.last_seen_at": {"null_check": {"equal_to": 0}}},
        partition_clause="user_id > 7",
    )
    narrowed.get_db_hook = lambda: SQLiteHook(db)
    narrowed.execute(context={})
    assert [(r.name, r.actual) for r in narrowed.check_results] == [("last_seen_at.null_check", "0")]


def test_a_column_of_no_relation_is_refused():
    with pytest.raises(ValueError, match=r"columns of no relation: \['time.hour'\]"):
        ColumnChecks(task_id="c", relations={"songs": ('"audit_songs"', None)}, column_mapping={"time.hour": {}})


def test_every_check_operator_records_its_results_whatever_the_outcome():
    # RecordedCheck's execute wraps the operator's: an execute of the class's own would skip it
    for operator in (TableCheck, ColumnChecks, RelationalChecks):
        assert operator.execute is RecordedCheck.execute, operator


def relational(conn, queries: dict[str, str]) -> tuple[RelationalChecks, SQLiteHook]:
    check = RelationalChecks(task_id="relational_checks", checks=dict.fromkeys(queries, "songs"))
    check.sql = list(queries.values())  # what rendering the checks/<name>.sql files gives
    hook = SQLiteHook(conn)
    check.get_db_hook = lambda: hook
    return check, hook


def test_every_relational_check_runs_and_is_recorded_before_the_failed_ones_are_named(db):
    check, hook = relational(
        db,
        {
            "songs_unique": "SELECT COUNT(*) = COUNT(DISTINCT song_id) AS passed, "
            "'songs: ' || COUNT(*) AS figures FROM audit_songs WHERE run_id = 'r1'",
            "users_present": "SELECT COUNT(*) > 0 AS passed, 'users: ' || COUNT(*) AS figures FROM audit_users",
            "no_row": "SELECT 1 AS passed FROM audit_songs WHERE run_id = 'none'",
        },
    )
    with pytest.raises(AirflowException) as failure:
        check.execute(context={})
    assert len(hook.statements) == 3
    found = {r.name: (r.table, r.success, r.actual) for r in check.check_results}
    assert found == {
        "songs_unique": ("songs", False, "songs: 3"),  # SO1 twice
        "users_present": ("songs", True, "users: 3"),
        "no_row": ("songs", False, "no row"),
    }
    message = str(failure.value)
    assert message.startswith("Test failed: songs_unique, no_row")
    assert "Query of songs_unique:\nSELECT COUNT(*) = COUNT(DISTINCT song_id)" in message
    assert "users_present" not in message


def test_relational_checks_name_in_sql_files_and_pass_when_every_value_is_true():
    check = RelationalChecks(task_id="r", checks={"a": "songs", "b": "users"})
    assert check.sql == ["checks/a.sql", "checks/b.sql"]
    result = RelationalChecks._check_result("a", "songs", "q", {"passed": True, "figures": "x: 1"})
    assert (result.success, result.actual, result.content) == (True, "x: 1", "q")
    assert not RelationalChecks._check_result("a", "songs", "q", (True, "")).success  # an empty figure is false
    assert RelationalChecks._check_result("a", "songs", "q", (True,)).actual == "(True,)"  # no figure: the row
