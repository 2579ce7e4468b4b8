"""The statements of a table load (include/sparkify/loads.py), without a database."""

from __future__ import annotations

import pytest

from include.sparkify.analytics import build_statements
from include.sparkify.loads import STATEMENT_ROLES, TABLES, LoadMode, load_statements


@pytest.mark.parametrize("mode", list(LoadMode))
@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_load_locks_its_table_first_and_never_truncates(table, mode):
    statements = load_statements(table, mode)
    assert statements[0] == f'LOCK TABLE "{table}"'
    assert len(statements) == len(STATEMENT_ROLES[mode])  # each statement's row count has a role
    assert not any(s.lstrip().upper().startswith("TRUNCATE") for s in statements)  # commits on Redshift
    assert sum(f'"{t}"' in " ".join(statements[1:]) for t in TABLES) == 1  # writes its own table only


def test_the_roles_say_which_counts_are_deleted_and_inserted():
    statements = load_statements("users", LoadMode.UPSERT)
    roles = dict(zip(STATEMENT_ROLES[LoadMode.UPSERT], statements))
    assert roles["deleted"].startswith('DELETE FROM "users" USING "incoming_users"')
    assert roles["inserted"].startswith('INSERT INTO "users" SELECT * FROM "incoming_users"')


def test_the_analytics_rebuild_locks_too():
    statements = build_statements("daily_listening")
    assert statements[:2] == ['LOCK TABLE "daily_listening"', 'DELETE FROM "daily_listening"']
    assert len(statements) == len(STATEMENT_ROLES[LoadMode.TRUNCATE_INSERT])


def test_an_unknown_table_is_refused():
    with pytest.raises(ValueError, match="not a table"):
        load_statements("songs; DROP TABLE users", LoadMode.APPEND)
