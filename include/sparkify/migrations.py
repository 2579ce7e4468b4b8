"""Versioned schema migrations: the files ``NNNN_name.sql`` of include/sql/migrations/,
applied in order and recorded in ``schema_migrations``.

Each migration runs in its own transaction together with the row recording it; a file whose
first line is ``-- migrate: no-transaction`` runs statement by statement in autocommit. An
applied file never changes: its SHA-256 is checked on every run before anything is applied.
Baseline: while ``schema_migrations`` is new (or empty), each leading migration whose
``-- applied-if: <SQL returning one boolean>`` header holds (a warehouse built by an earlier
release) is recorded as applied without running.

Plain DB-API on the caller's connection (psycopg or redshift_connector), ``%s`` parameters.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlparse

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "sql" / "migrations"
TABLE = "schema_migrations"
FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
NO_TRANSACTION = "-- migrate: no-transaction"
APPLIED_IF = "-- applied-if:"

# What Redshift refuses inside a transaction block (BEGIN ... END), so only a no-transaction
# migration may hold it. AWS, Amazon Redshift Database Developer Guide:
# ALTER COLUMN ... TYPE  https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE.html
# ALTER TABLE APPEND     https://docs.aws.amazon.com/redshift/latest/dg/r_ALTER_TABLE_APPEND.html
# VACUUM                 https://docs.aws.amazon.com/redshift/latest/dg/r_VACUUM_command.html
# CREATE DATABASE        https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_DATABASE.html
# CREATE EXTERNAL TABLE  https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_EXTERNAL_TABLE.html
REFUSED_IN_TRANSACTION = tuple(
    re.compile(pattern, re.IGNORECASE | re.DOTALL)
    for pattern in (
        r"^ALTER\s+TABLE\b.*\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b",
        r"^ALTER\s+TABLE\b.*\bAPPEND\s+FROM\b",
        r"^VACUUM\b",
        r"^CREATE\s+DATABASE\b",
        r"^CREATE\s+EXTERNAL\s+TABLE\b",
    )
)

CREATE_TABLE = f"""CREATE TABLE {TABLE} (
    version INTEGER NOT NULL, name VARCHAR(256) NOT NULL, checksum CHAR(64) NOT NULL,
    applied_at TIMESTAMP NOT NULL, run_id VARCHAR(256) NOT NULL, baseline BOOLEAN NOT NULL,
    PRIMARY KEY (version))"""
TABLE_EXISTS = f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name='{TABLE}'"
RECORD = f"INSERT INTO {TABLE} (version, name, checksum, applied_at, run_id, baseline) VALUES (%s, %s, %s, %s, %s, %s)"


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message names the file and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str  # the file name, e.g. 0002_staging_events_source_key.sql
    checksum: str  # SHA-256 of the file's bytes, 64 hex digits
    transactional: bool
    applied_if: str | None
    statements: tuple[str, ...]


def parse_header(text: str, name: str = "migration") -> tuple[bool, str | None]:
    """(transactional, applied-if probe) from the leading comment lines. The probe goes on in
    the comment lines right after it that are indented (``--`` and two or more spaces)."""
    lines = text.splitlines()
    transactional = not (lines and lines[0].strip() == NO_TRANSACTION)
    probe: list[str] = []
    in_probe = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            break  # the first statement: the header is over
        if re.match(r"--\s*migrate\s*:", stripped) and (number > 1 or stripped != NO_TRANSACTION):
            raise MigrationError(f"{name}, line {number}: the only directive is '{NO_TRANSACTION}', on line 1")
        if stripped.startswith(APPLIED_IF):
            if probe:
                raise MigrationError(f"{name}, line {number}: a second '{APPLIED_IF}' header")
            probe, in_probe = [stripped[len(APPLIED_IF) :].strip()], True
        elif in_probe and re.match(r"--\s{2,}\S", stripped):
            probe.append(stripped[2:].strip())
        else:
            in_probe = False
    return transactional, " ".join(probe).strip() or None


# Kept per file text: sqlparse takes about 0.2 s of CPU for the nine files here, and every
# create_tables run reads them all (a process running it many times, dag.test() in the tests,
# splits each text once).
@functools.lru_cache(maxsize=128)
def split_statements(text: str) -> tuple[str, ...]:
    """The statements of a file, without comments or the closing semicolon."""
    statements = (sqlparse.format(s, strip_comments=True).strip().rstrip(";").strip() for s in sqlparse.split(text))
    return tuple(s for s in statements if s)


def refused_in_transaction(statement: str) -> bool:
    """Whether Redshift refuses ``statement`` inside a transaction block."""
    return any(pattern.search(statement.strip()) for pattern in REFUSED_IN_TRANSACTION)


def read_migration(path: Path) -> Migration:
    """One migration file, checked: its name, its header, the no-transaction rule."""
    match = FILE_NAME.match(path.name)
    if not match:
        raise MigrationError(f"{path.name}: a migration file is named NNNN_name.sql (4 digits, lower case)")
    data = path.read_bytes()
    text = data.decode("utf-8")
    transactional, probe = parse_header(text, path.name)
    statements = split_statements(text)
    refused = [s for s in statements if transactional and refused_in_transaction(s)]
    if not statements or refused:
        raise MigrationError(
            f"{path.name}: no SQL statement"
            if not statements
            else f"{path.name}: Redshift refuses this in a transaction block, so the file must "
            f"start with '{NO_TRANSACTION}': {refused[0]}"
        )
    return Migration(int(match.group(1)), path.name, hashlib.sha256(data).hexdigest(), transactional, probe, statements)


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations of ``directory`` in version order, numbered 1, 2, 3 ... without gaps."""
    migrations = sorted((read_migration(p) for p in directory.glob("*.sql")), key=lambda m: m.version)
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"{migration.name}: expected version {expected:04d} here (versions are "
                "1, 2, 3 ... without gaps or duplicates)"
            )
    return migrations


def _query(cursor: Any, sql: str) -> list[tuple]:
    cursor.execute(sql)
    return list(cursor.fetchall())


def _record(cursor: Any, migration: Migration, run_id: str, baseline: bool) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)  # the warehouse's timestamps are UTC
    cursor.execute(RECORD, (migration.version, migration.name, migration.checksum, now, run_id, baseline))


def _adopt(conn: Any, migrations: list[Migration], run_id: str) -> list[str]:
    """Creates the table if missing; while it is empty, records the leading migrations whose
    probe holds (the baseline). Returns their names."""
    cursor = conn.cursor()
    baselined: list[str] = []
    step = f"creating {TABLE}"
    try:
        if _query(cursor, TABLE_EXISTS)[0][0] == 0:
            cursor.execute(CREATE_TABLE)
        if _query(cursor, f"SELECT COUNT(*) FROM {TABLE}")[0][0] == 0:
            for migration in migrations:
                step = f"the applied-if probe of {migration.name}"
                if not migration.applied_if or not _query(cursor, migration.applied_if)[0][0]:
                    break
                _record(cursor, migration, run_id, baseline=True)
                baselined.append(migration.name)
        conn.commit()
    except Exception as exc:
        conn.rollback()
        raise MigrationError(f"{step} failed: {exc}. Nothing was applied.") from exc
    return baselined


def _verify(recorded: list[tuple], migrations: list[Migration]) -> None:
    """Refuses a warehouse whose applied migrations are not this release's files, unchanged."""
    versions = [row[0] for row in recorded]
    if versions != list(range(1, len(versions) + 1)) or len(versions) > len(migrations):
        raise MigrationError(
            f"{TABLE} records versions {versions}; this release has 1 to {len(migrations)}. Deploy "
            "the release that applied them (or repair the table). Nothing was applied."
        )
    for (_, name, applied_checksum), migration in zip(recorded, migrations):
        if (migration.name, migration.checksum) != (name, applied_checksum.strip()):
            renamed = f" (applied as {name})" if name != migration.name else ""
            raise MigrationError(
                f"{migration.name}{renamed} was changed after it was applied: checksum {applied_checksum.strip()} "
                f"when applied, {migration.checksum} now. Never edit or rename an applied migration: restore the "
                "file and add a new migration. Nothing was applied."
            )


def _apply(conn: Any, migration: Migration, run_id: str, version: int) -> None:
    """Runs one migration and records it: in one transaction, or statement by statement."""
    conn.autocommit = not migration.transactional
    cursor = conn.cursor()
    done = 0
    try:
        for statement in migration.statements:
            cursor.execute(statement)
            done += 1
        _record(cursor, migration, run_id, baseline=False)
        if migration.transactional:
            conn.commit()
    except Exception as exc:
        if migration.transactional:
            conn.rollback()
        what = (
            "rolled back"
            if migration.transactional
            else f"no-transaction: the {done} statement(s) before the failing one stay committed"
        )
        failing = (
            f"statement {done + 1} of {len(migration.statements)}:\n{migration.statements[done]}"
            if done < len(migration.statements)
            else f"its record in {TABLE}"
        )
        raise MigrationError(
            f"{migration.name} failed ({what}); the warehouse stays at version {version}. "
            f"Failing {failing}\nError: {exc}"
        ) from exc
    finally:
        conn.autocommit = False


def apply_migrations(conn: Any, run_id: str, directory: Path = MIGRATIONS_DIR) -> dict[str, Any]:
    """Brings the warehouse behind the DB-API connection ``conn`` to the newest migration of
    ``directory``. Returns ``{"version": N, "applied": [names], "baselined": [names]}``."""
    migrations = discover(directory)
    conn.autocommit = False
    baselined = _adopt(conn, migrations, run_id)
    recorded = _query(conn.cursor(), f"SELECT version, name, checksum FROM {TABLE} ORDER BY version")
    conn.commit()
    _verify(recorded, migrations)
    version = len(recorded)  # versions 1 .. len(recorded), checked by _verify
    applied: list[str] = []
    for migration in migrations[version:]:
        log.info("Applying %s (%s)", migration.name, "one transaction" if migration.transactional else "autocommit")
        _apply(conn, migration, run_id, version)
        version = migration.version
        applied.append(migration.name)
    log.info("Schema at version %d: applied %s, baselined %s", version, applied or "none", baselined or "none")
    return {"version": version, "applied": applied, "baselined": baselined}
