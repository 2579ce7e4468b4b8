"""The migration runner's pure parts, and the migration files themselves, without a database:
discovery and order, checksums, the header (no-transaction, applied-if), statement splitting,
the no-transaction rule, and what Redshift accepts in a migration."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from include.sparkify.migrations import (
    MIGRATIONS_DIR,
    MigrationError,
    discover,
    parse_header,
    read_migration,
    refused_in_transaction,
    split_statements,
)

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "include" / "sql" / "migrations"
DDL = REPO / "include" / "sql" / "ddl"

# The schema's history (issue 15): the initial schema of commit 8babb8c, then one migration
# per later change.
HISTORY = [
    "0001_initial.sql",
    "0002_staging_events_source_key.sql",
    "0003_monitoring_tables.sql",
    "0004_staging_manifest_checked_at.sql",
    "0005_staging_rejects_raw_digest.sql",
    "0006_write_audit_publish.sql",
    "0007_staging_drift.sql",
    "0008_monthly_listening.sql",
    "0009_catalog_loads.sql",
]

# Statements Redshift refuses inside a transaction block (BEGIN ... END), from the AWS
# Database Developer Guide pages of ALTER TABLE (ALTER COLUMN ... TYPE), ALTER TABLE APPEND,
# VACUUM, CREATE DATABASE and CREATE EXTERNAL TABLE. Written here independently of the runner.
REFUSED_SAMPLES = [
    "ALTER TABLE staging_events ALTER COLUMN artist TYPE VARCHAR(1024)",
    "alter table songs\n    alter column title type varchar(2048)",
    "ALTER TABLE songplays APPEND FROM songplays_staging",
    "VACUUM songplays",
    "vacuum delete only staging_events to 75 percent",
    "CREATE DATABASE sparkify_copy",
    "CREATE EXTERNAL TABLE spectrum.events (ts BIGINT) STORED AS PARQUET LOCATION 's3://b/p/'",
]
ACCEPTED_SAMPLES = [
    "ALTER TABLE staging_events ADD COLUMN source_key VARCHAR(1024)",
    "ALTER TABLE songs RENAME COLUMN title TO song_title",
    "CREATE TABLE types (type VARCHAR(16))",
    "INSERT INTO songs (title) VALUES ('vacuum cleaner')",
    "UPDATE songs SET title = 'ALTER COLUMN x TYPE'",
]


def _refused_by_redshift(statement: str) -> bool:
    """The test's own reading of the AWS pages (not the runner's patterns)."""
    words = statement.upper().split()
    text = " ".join(words)
    return text.startswith(("VACUUM", "CREATE DATABASE", "CREATE EXTERNAL TABLE")) or (
        text.startswith("ALTER TABLE")
        and (" APPEND FROM " in text or re.search(r" ALTER (COLUMN )?\S+ (SET DATA )?TYPE ", text))
    )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


# ---------------------------------------------------------------- the files of the repo


def test_the_history_is_the_migrations_in_order():
    assert MIGRATIONS_DIR == MIGRATIONS
    assert sorted(p.name for p in MIGRATIONS.glob("*.sql")) == HISTORY
    assert [(m.version, m.name) for m in discover()] == list(enumerate(HISTORY, start=1))


def test_every_migration_of_the_history_has_a_baseline_probe():
    for migration in discover():
        probe = migration.applied_if
        assert probe and probe.upper().startswith("SELECT "), migration.name
        assert "information_schema" in probe and "'public'" in probe, migration.name


def test_checksums_are_the_sha256_of_the_files():
    for migration in discover():
        assert migration.checksum == hashlib.sha256((MIGRATIONS / migration.name).read_bytes()).hexdigest()
        assert re.fullmatch(r"[0-9a-f]{64}", migration.checksum)


def test_no_transactional_migration_holds_what_redshift_refuses_in_a_transaction():
    for migration in discover():
        if migration.transactional:
            assert not [s for s in migration.statements if _refused_by_redshift(s)], migration.name


def test_migrations_are_plain_redshift_ddl():
    """CREATE TABLE without IF NOT EXISTS (a migration runs once); ALTER TABLE ADD COLUMN adds
    one column per statement, and a NOT NULL one has a DEFAULT (both Redshift rules: AWS,
    ALTER TABLE, ADD COLUMN)."""
    for migration in discover():
        for statement in migration.statements:
            text = " ".join(statement.upper().split())
            assert "IF NOT EXISTS" not in text and "IF EXISTS" not in text, (migration.name, statement)
            if text.startswith("ALTER TABLE") and " ADD " in text:
                flat = re.sub(r"\([^()]*\)", "", text)  # without VARCHAR(1024), DECIMAL(5, 4)
                assert len(re.findall(r"\bADD\b", flat)) == 1 and "," not in flat, (migration.name, statement)
                if "NOT NULL" in text:
                    assert " DEFAULT " in text, (migration.name, statement)


def test_redshift_table_attributes_are_the_same_in_ddl_and_migrations():
    """What the PostgreSQL catalog comparison cannot see (tests/test_migrations.py): DISTSTYLE,
    DISTKEY, SORTKEY and ENCODE clauses appear alike in ddl/ and in the migrations."""
    pattern = re.compile(
        r"\b(DISTSTYLE\s+\w+|DISTKEY\s*\([^)]*\)|(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY\s*\([^)]*\)"
        r"|ENCODE\s+\w+)",
        re.IGNORECASE,
    )

    def clauses(paths) -> list[str]:
        found = []
        for path in paths:
            for statement in split_statements(path.read_text()):
                found += [" ".join(c.upper().split()) for c in pattern.findall(statement)]
        return sorted(found)

    assert clauses(sorted(DDL.glob("*.sql"))) == clauses(sorted(MIGRATIONS.glob("*.sql")))


# ---------------------------------------------------------------- discovery and order


def test_discovery_orders_by_version_and_ignores_other_files(tmp_path):
    write(tmp_path, "0002_second.sql", "CREATE TABLE b (x INTEGER);\n")
    write(tmp_path, "0001_first.sql", "CREATE TABLE a (x INTEGER);\n")
    write(tmp_path, "0003_third.sql", "CREATE TABLE c (x INTEGER);\n")
    write(tmp_path, "README.md", "notes\n")
    assert [m.name for m in discover(tmp_path)] == ["0001_first.sql", "0002_second.sql", "0003_third.sql"]
    assert [m.version for m in discover(tmp_path)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("names", "culprit"),
    [
        (["0001_a.sql", "0003_c.sql"], "0003_c.sql"),  # a gap
        (["0001_a.sql", "0001_b.sql"], "0001_b.sql"),  # a duplicate version
        (["0002_b.sql"], "0002_b.sql"),  # not starting at 1
    ],
)
def test_versions_run_without_gaps_or_duplicates(tmp_path, names, culprit):
    for name in names:
        write(tmp_path, name, "CREATE TABLE t (x INTEGER);\n")
    with pytest.raises(MigrationError, match=re.escape(culprit)):
        discover(tmp_path)


@pytest.mark.parametrize(
    "name", ["1_initial.sql", "0001-initial.sql", "0001_Initial.sql", "00001_initial.sql", "0001_.sql", "initial.sql"]
)
def test_a_badly_named_sql_file_is_refused(tmp_path, name):
    write(tmp_path, name, "CREATE TABLE t (x INTEGER);\n")
    with pytest.raises(MigrationError, match=re.escape(name)):
        discover(tmp_path)


def test_an_empty_migration_is_refused(tmp_path):
    write(tmp_path, "0001_empty.sql", "-- nothing yet\n")
    with pytest.raises(MigrationError, match=r"0001_empty\.sql: no SQL statement"):
        discover(tmp_path)


# ---------------------------------------------------------------- checksum


def test_checksum_changes_with_any_byte(tmp_path):
    text = "-- a comment\nCREATE TABLE t (x INTEGER);\n"
    variants = [text, text.replace("comment", "comments"), text + "\n", text.replace("\n", "\r\n")]
    sums = []
    for variant in variants:
        path = tmp_path / "0001_t.sql"
        path.write_bytes(variant.encode())
        sums.append(read_migration(path).checksum)
        assert sums[-1] == hashlib.sha256(variant.encode()).hexdigest()
    assert len(set(sums)) == len(variants)


# ---------------------------------------------------------------- header


def test_plain_migration_is_transactional_without_probe():
    assert parse_header("-- adds a column\nALTER TABLE t ADD COLUMN c INTEGER;\n") == (True, None)


def test_no_transaction_on_the_first_line():
    assert parse_header("-- migrate: no-transaction\n-- why\nVACUUM t;\n") == (False, None)
    assert parse_header("  -- migrate: no-transaction  \nVACUUM t;\n") == (False, None)


@pytest.mark.parametrize(
    "text",
    [
        "-- why\n-- migrate: no-transaction\nVACUUM t;\n",  # not the first line
        "-- migrate: no-transactions\nVACUUM t;\n",  # unknown directive
        "--migrate:autocommit\nVACUUM t;\n",
    ],
)
def test_a_misplaced_or_unknown_directive_is_refused(text):
    with pytest.raises(MigrationError, match="no-transaction"):
        parse_header(text, "0005_x.sql")


def test_applied_if_with_indented_continuation_lines():
    text = (
        "-- applied-if: SELECT COUNT(*) = 1 FROM information_schema.columns\n"
        "--     WHERE table_name = 't'\n"
        "--   AND column_name = 'c'\n"
        "-- A description, not the probe.\n"
        "--     indented, but after the description: not the probe either\n"
        "ALTER TABLE t ADD COLUMN c INTEGER;\n"
    )
    assert parse_header(text) == (
        True,
        "SELECT COUNT(*) = 1 FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'",
    )


def test_applied_if_with_no_transaction():
    text = "-- migrate: no-transaction\n-- applied-if: SELECT TRUE\nVACUUM t;\n"
    assert parse_header(text) == (False, "SELECT TRUE")


def test_only_the_leading_comments_are_the_header():
    text = "CREATE TABLE t (x INTEGER);\n-- applied-if: SELECT TRUE\n-- migrate: no-transaction\n"
    assert parse_header(text) == (True, None)


def test_two_probes_are_refused():
    with pytest.raises(MigrationError, match="second"):
        parse_header("-- applied-if: SELECT TRUE\n-- applied-if: SELECT FALSE\nSELECT 1;\n")


# ---------------------------------------------------------------- statement splitting


def test_statements_split_on_semicolons_outside_literals_and_comments():
    text = (
        "-- header; with a semicolon\n"
        "CREATE TABLE t (\n    x VARCHAR(8) DEFAULT 'a;b' -- inline; comment\n);\n"
        "\n/* block; comment */\n"
        "INSERT INTO t (x) VALUES ('--;');\n"
        ";\n"
        "ALTER TABLE t ADD COLUMN y INTEGER\n"
    )
    statements = split_statements(text)
    assert len(statements) == 3
    assert statements[0].startswith("CREATE TABLE t (") and "'a;b'" in statements[0]
    assert "inline" not in statements[0] and "header" not in statements[0]
    assert statements[1] == "INSERT INTO t (x) VALUES ('--;')"
    assert statements[2] == "ALTER TABLE t ADD COLUMN y INTEGER"


def test_the_repo_migrations_split_into_their_statements():
    """Counted independently: one statement per semicolon at a line's end outside comments."""
    for path in sorted(MIGRATIONS.glob("*.sql")):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("--")]
        expected = sum(line.rstrip().endswith(";") for line in code)
        assert len(read_migration(path).statements) == expected, path.name


# ---------------------------------------------------------------- the no-transaction rule


@pytest.mark.parametrize("statement", REFUSED_SAMPLES)
def test_refused_statements_are_recognised(statement):
    assert _refused_by_redshift(statement)  # the samples are what they claim
    assert refused_in_transaction(statement)


@pytest.mark.parametrize("statement", ACCEPTED_SAMPLES)
def test_ordinary_statements_are_not_refused(statement):
    assert not _refused_by_redshift(statement)
    assert not refused_in_transaction(statement)


@pytest.mark.parametrize("statement", REFUSED_SAMPLES)
def test_a_transactional_migration_holding_a_refused_statement_is_rejected(tmp_path, statement):
    write(tmp_path, "0001_change.sql", f"-- a change\nCREATE TABLE t (x INTEGER);\n{statement};\n")
    with pytest.raises(MigrationError, match=r"0001_change\.sql.*-- migrate: no-transaction"):
        discover(tmp_path)
    write(tmp_path, "0001_change.sql", f"-- migrate: no-transaction\nCREATE TABLE t (x INTEGER);\n{statement};\n")
    (migration,) = discover(tmp_path)
    assert not migration.transactional and len(migration.statements) == 2
