"""The columnar path (include/sparkify/staging/columnar.py) against PostgreSQL itself, as
tests/test_rows.py checks the row path: for every staging column and many awkward JSON
values, an object the columnar path takes must stage, row for row, what PostgreSQL builds
from the same JSON (jsonb_populate_record), and no row it takes may break a staging rule.
Objects it declines go to the row path (fine), but plain ones must be taken, or the path
would be dead code."""

from __future__ import annotations

import json

import pytest
from psycopg import sql

from include.sparkify import staging
from include.sparkify.staging.columnar import ColumnarConverter
from tests.test_bad_input import EVENT, SONG
from tests.test_rows import PROBES, columns, conn, log_fields, postgres_row, same  # noqa: F401 - conn: fixture

COPIES = 120  # plain lines around the probe: the object is over columnar.MIN_OBJECT_BYTES


def staged_by_copy(db, table: str, cols, csv: bytes) -> list[tuple]:
    """The rows PostgreSQL stages from the CSV the columnar path wrote (a temp copy of the table)."""
    db.execute("DROP TABLE IF EXISTS columnar_probe")
    db.execute(f"CREATE TEMP TABLE columnar_probe (LIKE {table})")
    names = [name for name, _ in cols]
    statement = sql.SQL("COPY columnar_probe ({}) FROM STDIN (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, names))
    )
    with db.cursor() as cur, cur.copy(statement) as copy:
        copy.write(csv)
    return db.execute(f"SELECT {', '.join(names)} FROM columnar_probe").fetchall()


@pytest.mark.parametrize(
    ("table", "base"), [("staging_events", EVENT), ("staging_songs", SONG)], ids=["events", "songs"]
)
def test_columnar_path_agrees_with_postgresql(conn, table, base):  # noqa: F811 - conn is the fixture
    cols = columns(conn, table)
    fields = log_fields() if table == "staging_events" else [name for name, _ in cols]
    reasons = [reason for _, _, reason in staging.RULES[table]]
    converter = ColumnarConverter.create(cols, fields, reasons, keyed=False)
    assert converter is not None
    plain = json.dumps(base, ensure_ascii=False, separators=(",", ":")).encode()  # compact, as the real files
    plain_row = postgres_row(conn, table, {name: base.get(key) for (name, _), key in zip(cols, fields)})
    taken = declined = 0
    for field in fields:
        for value in PROBES:
            record = {**base, field: value}
            probe = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
            done = converter.convert(b"\n".join([plain] * COPIES + [probe]), "k", 1 << 20)
            if done.table is None:
                declined += 1
                continue
            taken += 1
            expected = postgres_row(conn, table, {name: record.get(key) for (name, _), key in zip(cols, fields)})
            assert expected is not None, f"columnar path staged {field}={value!r}, PostgreSQL rejects it"
            rows = staged_by_copy(conn, table, cols, done.to_csv())
            assert done.rows == len(rows) == COPIES + 1
            assert sorted(rows, key=repr) == sorted([plain_row] * COPIES + [expected], key=repr), (field, value)
            assert all(same(list(r), expected) or same(list(r), plain_row) for r in rows), (field, value)
    assert taken > len(fields) * 3 and declined > len(fields) * 10


def test_an_escaped_surrogate_pair_stages_what_postgresql_builds(conn):  # noqa: F811 - conn is the fixture
    """The columnar path leaves surrogate escapes to Arrow's parser: a pair is taken, and
    stages the character PostgreSQL's own JSON input makes of the same escape."""
    table = "staging_events"
    cols, fields = columns(conn, table), log_fields()
    converter = ColumnarConverter.create(cols, fields, [r for _, _, r in staging.RULES[table]], keyed=False)
    record = {**EVENT, "song": "\U0001f600 " + EVENT["song"]}
    escaped = json.dumps(record, separators=(",", ":")).encode()  # ASCII only: the pair as two escapes
    assert b"\\ud83d\\ude00" in escaped
    plain = json.dumps(EVENT, ensure_ascii=False, separators=(",", ":")).encode()
    done = converter.convert(b"\n".join([plain] * COPIES + [escaped]), "k", 1 << 20)
    assert done.table is not None, done.why_not
    rows = staged_by_copy(conn, table, cols, done.to_csv())
    # PostgreSQL parses the escaped document itself (json.dumps escapes the character again)
    expected = postgres_row(conn, table, {name: record.get(key) for (name, _), key in zip(cols, fields)})
    plain_row = postgres_row(conn, table, {name: EVENT.get(key) for (name, _), key in zip(cols, fields)})
    assert expected is not None and expected != plain_row
    assert sorted(rows, key=repr) == sorted([plain_row] * COPIES + [expected], key=repr)
