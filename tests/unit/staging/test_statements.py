"""The staging SQL templates (include/sql/staging) rendered by statements.py."""

from __future__ import annotations

import re

import jinja2
import pytest

from include.sparkify.staging.sources import StagingError
from include.sparkify.staging.statements import DIRECTORY, column, param, render

# Every fragment any template uses, with a recognisable value.
FRAGMENTS = {
    "now": "NOW_SQL",
    "table": "staging_songs",
    "rejects": "(REJECTS)",
    "mapped": "MAPPED",
    "column_types": "TYPES",
    "rule_case": "RULE_CASE",
    "columns": "a, b",
    "row_text": "ROW_TEXT",
    "rule": "RULE",
    "limit": 5,
    "prefix": True,
    "too_long": "TOO_LONG",
    "rows": 2,
}


def test_param_is_a_pyformat_placeholder():
    assert param("run_id") == "%(run_id)s"


def test_render_binds_parameters():
    assert render("clear_rejects") == [
        "DELETE FROM staging_rejects\nWHERE staging_table = %(table)s AND run_id = %(run_id)s"
    ]


def test_manifest_record_is_two_statements_without_comments():
    delete, insert = render("manifest_record", now="GETDATE()")
    assert delete == "DELETE FROM staging_manifest\nWHERE staging_table = %(table)s"
    assert insert.startswith("INSERT INTO staging_manifest (") and insert.endswith("GETDATE(),\n    GETDATE()\n)")
    assert set(re.findall(r"%\((\w+)\)s", insert)) == {
        "table",
        "fingerprint",
        "objects",
        "bytes",
        "rows_staged",
        "run_id",
    }


def test_fragments_are_filled_in():
    (sql,) = render("reject_samples", limit=7)
    assert sql.endswith("ORDER BY source_key, line_number\nLIMIT 7")
    (sql,) = render("clear_partition", table="staging_events", prefix=False)
    assert sql.startswith("DELETE FROM staging_events\nWHERE")


@pytest.mark.parametrize("path", sorted(DIRECTORY.rglob("*.sql")), ids=lambda p: str(p.relative_to(DIRECTORY)))
def test_every_template_renders_without_comments_or_jinja(path):
    name = str(path.relative_to(DIRECTORY).with_suffix(""))
    statements = render(name, **FRAGMENTS)
    assert statements
    for sql in statements:
        assert not any(line.lstrip().startswith("--") for line in sql.splitlines())
        assert "{{" not in sql and "param(" not in sql and not sql.endswith(";")


def test_a_comment_line_ending_in_a_semicolon_splits_nothing(tmp_path, monkeypatch):
    from include.sparkify.staging import statements

    (tmp_path / "t.sql").write_text(
        "-- first; a note;\nSELECT 1,\n-- inside;\n    2;\n\n-- between;\nUPDATE t SET a = 1 -- trailing\n"
    )
    monkeypatch.setattr(statements, "DIRECTORY", tmp_path)
    statements._environment.cache_clear()
    try:
        assert render("t") == ["SELECT 1,\n    2", "UPDATE t SET a = 1 -- trailing"]
    finally:
        statements._environment.cache_clear()


def test_a_missing_fragment_is_an_error():
    with pytest.raises(jinja2.UndefinedError, match="now"):
        render("manifest_record")
    with pytest.raises(jinja2.UndefinedError, match="table"):
        render("clear_partition", prefix=True)


@pytest.mark.parametrize("name", ["userid", "source_key", "a1", "_x"])
def test_column_accepts_plain_names(name):
    assert column(name) == name


@pytest.mark.parametrize("name", ["UserId", "1a", "a b", "a;b", "", "a-b", 'a"'])
def test_column_refuses_unsafe_names(name):
    with pytest.raises(StagingError, match="unexpected column name"):
        column(name)
