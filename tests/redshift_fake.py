"""An in-process stand-in for Amazon Redshift behind redshift_connector, and for S3, for
tests/test_redshift_contract.py: no service, no network.

``FakeRedshift`` is a DB-API connection like ``redshift_connector.connect()`` returns. Its
cursors start with redshift_connector's own default paramstyle (``format``) and record every
statement they are sent, with its parameters and the paramstyle in force, as ``Sent``. It
answers only the statements of its table ``RECOGNISED`` (a pattern per statement shape, and
what Redshift would answer) and raises ``UnrecognisedStatement`` on anything else: a
statement added to the project must be added here too, so it cannot slip past the contract.

Its answers are what the Redshift path needs to go down every branch:

* the catalog (``information_schema.columns``) from the real DDL, include/sql/ddl/<table>.sql;
* every COPY loads ``copied`` rows and refuses ``refused`` lines, which PG_LAST_COPY_COUNT(),
  SYS_LOAD_HISTORY (query_id, loaded_rows, error_count, data_source), the lines of
  SYS_LOAD_ERROR_DETAIL and the rowcount of the INSERT of them agree on, so the reject
  accounting of ``RedshiftEngine.account_for_refused_lines`` runs with refused lines;
* staging_manifest's row (none by default), the data-quality queries' rows, and the
  bookkeeping of schema_migrations (kept, so include/sparkify/migrations.py can run twice).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redshift_connector
import sqlglot
from sqlglot import exp

from tests.unit.staging.fakes import FakeS3

SQL_DIR = Path(__file__).resolve().parents[1] / "include" / "sql"


class UnrecognisedStatement(AssertionError):
    """A statement FakeRedshift has no entry for in RECOGNISED."""


@dataclass(frozen=True)
class Sent:
    """One ``cursor.execute`` as the driver got it."""

    sql: str
    params: Any  # None, a mapping or a sequence, as passed to execute
    paramstyle: str  # the cursor's paramstyle when it was executed
    source: str  # what the test was collecting (staging, loads, ...)
    shape: str  # the RECOGNISED entry it matched


def scrub(sql: str, *, literals: bool = True) -> str:
    """``sql`` without its comments (``--`` and ``/* */``), outside string literals and quoted
    identifiers; with ``literals=False`` each string literal is emptied to ``''`` too, so a
    word inside a literal is never taken for SQL."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'":
            j = i + 1
            while True:
                k = sql.find("'", j)
                if k == -1:
                    raise ValueError(f"unterminated string literal in: {sql}")
                if k + 1 < n and sql[k + 1] == "'":  # '' inside a literal
                    j = k + 2
                    continue
                break
            out.append(sql[i : k + 1] if literals else "''")
            i = k + 1
        elif c == '"':
            k = sql.find('"', i + 1)
            if k == -1:
                raise ValueError(f"unterminated quoted identifier in: {sql}")
            out.append(sql[i : k + 1])
            i = k + 1
        elif sql.startswith("--", i):
            k = sql.find("\n", i)
            i = n if k == -1 else k
            out.append(" ")
        elif sql.startswith("/*", i):
            k = sql.find("*/", i + 2)
            if k == -1:
                raise ValueError(f"unterminated comment in: {sql}")
            i = k + 2
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def normalise(sql: str) -> str:
    """Comments dropped, whitespace collapsed: what RECOGNISED's patterns are matched against."""
    return " ".join(scrub(sql).split())


def ddl_columns(table: str) -> list[str]:
    """The columns of include/sql/ddl/<table>.sql, in table order."""
    create = sqlglot.parse_one((SQL_DIR / "ddl" / f"{table}.sql").read_text(), read="redshift")
    return [c.name for c in create.find_all(exp.ColumnDef)]


@dataclass(frozen=True)
class Shape:
    """A statement FakeRedshift recognises, and how it answers: rows (None: no result set)
    and the rowcount."""

    name: str
    pattern: str
    answer: Callable[[FakeRedshift, re.Match, Any], tuple[list[tuple] | None, int]] = lambda conn, match, params: (
        None,
        -1,
    )

    def match(self, statement: str) -> re.Match | None:
        return re.fullmatch(self.pattern, statement, re.IGNORECASE | re.DOTALL)


def _rows(*rows: tuple) -> tuple[list[tuple], int]:
    return list(rows), len(rows)


def _dml(conn: FakeRedshift, match: re.Match, params: Any) -> tuple[None, int]:
    return None, conn.dml_rows


def _param(params: Any, name: str) -> Any:
    return params[name] if isinstance(params, dict) else None


_IDENT = r'"?[a-z_][a-z0-9_]*"?'
_STAGING = r"staging_(?:events|songs)"
_STAR = r'"(?:songplays|users|songs|artists|time|daily_listening|monthly_listening)"'
_INCOMING_STAR = r'"incoming_(?:songplays|users|songs|artists|time|daily_listening)"'
_AUDIT = r'"audit_(?:songplays|users|songs|artists|time)"'
_RUN_LITERAL = r"CAST\('[A-Za-z0-9_.~:+-]+' AS VARCHAR\(250\)\)"

# The statements the Redshift path sends, by shape (whitespace collapsed, comments dropped).
# Anything else raises UnrecognisedStatement.
RECOGNISED: tuple[Shape, ...] = (
    # --- staging: include/sparkify/staging/{engine,redshift}.py, include/sql/staging/**
    Shape("session time zone", r"SET TIMEZONE TO 'UTC'"),
    Shape("staging lock", rf"LOCK {_STAGING}, staging_manifest, staging_rejects"),
    Shape(
        "manifest read",
        r"SELECT fingerprint, run_id, checked_at, GETDATE\(\) AS now FROM staging_manifest WHERE .*",
        lambda conn, m, p: (conn.manifest_rows(), len(conn.manifest_rows())),
    ),
    Shape("manifest mark checked", r"UPDATE staging_manifest SET checked_at = GETDATE\(\) WHERE .*", _dml),
    Shape("manifest delete", r"DELETE FROM staging_manifest WHERE staging_table = .*", _dml),
    Shape("manifest record", r"INSERT INTO staging_manifest \(.*\) VALUES \(.*\)", lambda c, m, p: (None, 1)),
    Shape(
        "table columns",
        r"SELECT column_name FROM information_schema\.columns WHERE table_schema = CURRENT_SCHEMA\(\) .*",
        lambda conn, m, p: _rows(*((c,) for c in ddl_columns(_param(p, "table")))),
    ),
    Shape("empty staging table", rf"DELETE FROM {_STAGING}", _dml),
    Shape("clear partition or rule rows", rf"DELETE FROM {_STAGING} WHERE .*", _dml),
    Shape("clear rejects", r"DELETE FROM staging_rejects WHERE staging_table = .*", _dml),
    Shape("clear drift", r"DELETE FROM staging_drift WHERE staging_table = .*", _dml),
    Shape("raw records table", r"CREATE TEMP TABLE raw_records \(doc SUPER\)"),
    Shape(
        "drift keys",
        r"SELECT CAST\(k AS VARCHAR\(256\)\) AS key_name, COUNT\(\*\) AS records "
        r"FROM raw_records AS r, UNPIVOT r\.doc AS v AT k GROUP BY k",
        lambda conn, m, p: _rows(*conn.drift_keys),
    ),
    Shape("drop raw records", r"DROP TABLE raw_records"),
    Shape("drift record", r"INSERT INTO staging_drift \(.*\) SELECT .* FROM \(.*\) AS drifted", _dml),
    Shape("incoming table", rf"CREATE TEMP TABLE incoming_{_STAGING} \(LIKE {_STAGING}\)"),
    Shape("copy", r"COPY .*", lambda conn, m, p: conn.copy()),
    Shape("copy count", r"SELECT PG_LAST_COPY_COUNT\(\)", lambda conn, m, p: _rows((conn.copied,))),
    Shape(
        "load history",
        r"SELECT query_id, loaded_rows, error_count, TRIM\(data_source\) AS data_source FROM sys_load_history .*",
        lambda conn, m, p: _rows((conn.query_id, conn.copied, conn.refused, "s3://fake/manifest")),
    ),
    Shape(
        "refused lines",
        r"SELECT TRIM\(file_name\) AS source_key, line_number, .* FROM sys_load_error_detail WHERE .*",
        lambda conn, m, p: _rows(*((f"s3://fake/k{i}", i + 1, "Invalid digit") for i in range(conn.listed))),
    ),
    Shape(
        "rejects from the load errors, as parameters",
        r"INSERT INTO staging_rejects \(.*\) SELECT .* FROM \(SELECT CAST\(.* AS VARCHAR\(1024\)\) AS source_key, .*\) AS r",
        lambda conn, m, p: (None, sum(1 for k in p if k.startswith("key_"))),
    ),
    Shape(
        "rejects from a staging rule",
        rf"INSERT INTO staging_rejects \(.*\) SELECT .* FROM \(SELECT .* FROM {_STAGING} WHERE .*\) AS r",
        lambda conn, m, p: (None, conn.rule_rows),
    ),
    Shape(
        "keep incoming rows",
        r"INSERT INTO staging_events \(.*, source_key\) SELECT .* FROM incoming_staging_events",
        lambda conn, m, p: (None, conn.copied),
    ),
    Shape("empty incoming table", r"DELETE FROM incoming_staging_events", _dml),
    Shape("drop incoming table", r"DROP TABLE incoming_staging_events"),
    Shape("tag full-load rows", r"UPDATE staging_events SET source_key = .* WHERE source_key IS NULL", _dml),
    Shape(
        "rule rows",
        rf"SELECT COUNT\(\*\) FROM {_STAGING} WHERE .*",
        lambda conn, m, p: _rows((conn.rule_rows,)),
    ),
    Shape(
        "reject count",
        r"SELECT COUNT\(\*\) AS rejected FROM staging_rejects WHERE .*",
        lambda conn, m, p: _rows((conn.rejected,)),
    ),
    Shape(
        "reject samples",
        r"SELECT source_key, line_number, reason FROM staging_rejects WHERE .* ORDER BY .* LIMIT \d+",
        lambda conn, m, p: _rows(("log_data/2018/11/2018-11-15-events.json", 3, "Invalid digit")),
    ),
    # --- loads: include/sparkify/loads.py and include/sql/load/*.sql, include/sql/analytics/*.sql
    Shape("load lock", rf"LOCK TABLE {_STAR}"),
    Shape("load empty", rf"DELETE FROM {_STAR}", _dml),
    Shape("load insert incoming", rf"INSERT INTO {_STAR} SELECT \* FROM {_INCOMING_STAR}", _dml),
    Shape("load insert", rf"INSERT INTO {_STAR} (?:WITH|SELECT) .*", _dml),
    Shape("load incoming", rf"CREATE TEMP TABLE {_INCOMING_STAR} AS (?:WITH|SELECT) .*"),
    Shape("load delete replaced", rf"DELETE FROM {_STAR} USING {_INCOMING_STAR} WHERE .*", _dml),
    Shape("load drop incoming", rf"DROP TABLE {_INCOMING_STAR}"),
    Shape(
        "rollup delete partition",
        r'DELETE FROM "(?:daily|monthly)_listening" WHERE (?:play_date|month_start) >= CAST\(TIMESTAMP .* AS DATE\) '
        r"AND (?:play_date|month_start) < CAST\(TIMESTAMP .* AS DATE\)",
        _dml,
    ),
    # --- write-audit-publish: the audit writes (loads.py) and the publish (publish.py)
    Shape("audit lock", rf"LOCK TABLE {_AUDIT}"),
    Shape("audit delete run rows", rf"DELETE FROM {_AUDIT} WHERE run_id = {_RUN_LITERAL}", _dml),
    Shape("audit insert", rf"INSERT INTO {_AUDIT} SELECT {_RUN_LITERAL}, i\.\* FROM {_INCOMING_STAR} AS i", _dml),
    Shape(
        "publish delete replaced",
        rf"DELETE FROM {_STAR} USING {_AUDIT} WHERE {_AUDIT}\.run_id = {_RUN_LITERAL} AND .*",
        _dml,
    ),
    Shape("publish insert", rf"INSERT INTO {_STAR} \(.*\) SELECT .* FROM {_AUDIT} AS a .*WHERE a\.run_id = .*", _dml),
    Shape(
        "publish span",
        rf'SELECT MIN\(start_time\), MAX\(start_time\) FROM "audit_songplays" WHERE run_id = {_RUN_LITERAL}',
        lambda conn, m, p: _rows((datetime(2018, 11, 15, 13, 5), datetime(2018, 11, 16, 2, 30))),
    ),
    Shape(
        "publish replace a catalog table the run wrote",
        rf"DELETE FROM {_STAR} WHERE EXISTS \(SELECT 1 FROM {_AUDIT} WHERE {_AUDIT}\.run_id = {_RUN_LITERAL}\)",
        _dml,
    ),
    # --- catalog loads: include/sparkify/catalog.py, include/sql/load/catalog_state.sql
    Shape(
        "catalog state",
        r"WITH last_published AS \( ?SELECT fingerprint, run_id, .* FROM catalog_loads WHERE .* ?\) "
        r"SELECT staged\.fingerprint AS staged_fingerprint, .* FROM staging_manifest AS staged .*",
        lambda conn, m, p: _rows(*conn.catalog_state),
    ),
    Shape("catalog lock", r'LOCK TABLE "catalog_loads"'),
    Shape(
        "catalog forget run", rf"DELETE FROM catalog_loads WHERE run_id = {_RUN_LITERAL} AND loaded_table = .*", _dml
    ),
    Shape(
        "catalog record",
        rf"INSERT INTO catalog_loads \(.*\) SELECT {_RUN_LITERAL}, .* FROM staging_manifest WHERE .*",
        _dml,
    ),
    Shape(
        "catalog published",
        rf"UPDATE catalog_loads SET published_at = TIMESTAMP '[0-9: -]+' WHERE run_id = {_RUN_LITERAL}",
        _dml,
    ),
    Shape("volumes forget run", rf"DELETE FROM load_volumes WHERE run_id = {_RUN_LITERAL}", _dml),
    Shape("volumes record", r"INSERT INTO load_volumes \(.*\) SELECT .* FROM \(.*\) AS audited", _dml),
    # --- data quality: include/sparkify/quality.py (provider operators), include/sql/checks/*.sql
    Shape(
        "column checks",
        r"SELECT col_name, check_type, check_result FROM \(.*\) AS check_columns",
        lambda conn, m, p: _rows(*((col, check, 0) for col, check in conn.column_checks(m.group(0)))),
    ),
    Shape(
        "table checks",
        r"SELECT check_name, check_result FROM \(.*\) AS check_table",
        lambda conn, m, p: _rows(*((name, 1) for name in re.findall(r"'(\w+)' AS check_name", m.group(0)))),
    ),
    Shape(
        "relational check",
        r"(?:WITH .* )?SELECT .* AS passed, .* AS figures FROM .*",
        lambda conn, m, p: _rows((True, "figures: 0")),
    ),
    Shape("dq history", r"INSERT INTO dq_history \(checked_at, .*\) VALUES \(.*\)", lambda c, m, p: (None, 1)),
    # --- schema migrations: include/sparkify/migrations.py and include/sql/migrations/*.sql
    Shape(
        "migrations table exists",
        r"SELECT COUNT\(\*\) FROM information_schema\.tables WHERE table_schema = 'public' "
        r"AND table_name='schema_migrations'",
        lambda conn, m, p: _rows((int(conn.migrations_table),)),
    ),
    Shape("migrations table", r"CREATE TABLE schema_migrations \(.*\)", lambda conn, m, p: conn.create_migrations()),
    Shape(
        "migrations count",
        r"SELECT COUNT\(\*\) FROM schema_migrations",
        lambda conn, m, p: _rows((len(conn.migrations),)),
    ),
    Shape(
        "applied-if probe",
        r"SELECT COUNT\(\*\) = \d+ FROM information_schema\.(?:tables|columns) WHERE .*",
        lambda conn, m, p: _rows((conn.probes_hold,)),
    ),
    Shape(
        "migration record",
        r"INSERT INTO schema_migrations \(version, name, checksum, applied_at, run_id, baseline\) VALUES \(.*\)",
        lambda conn, m, p: conn.record_migration(p),
    ),
    Shape(
        "migrations applied",
        r"SELECT version, name, checksum FROM schema_migrations ORDER BY version",
        lambda conn, m, p: _rows(*((v, n, c) for v, n, c, *_ in conn.migrations)),
    ),
    Shape("migration create table", rf"CREATE TABLE {_IDENT} \(.*\)"),
    Shape("migration add column", rf"ALTER TABLE {_IDENT} ADD COLUMN {_IDENT} .*"),
    Shape("migration copy table", rf"CREATE TEMPORARY TABLE {_IDENT} AS SELECT .* FROM {_IDENT}"),
    Shape("migration drop table", rf"DROP TABLE {_IDENT}"),
    Shape("migration refill", rf"INSERT INTO {_IDENT} \(.*\) SELECT .* FROM {_IDENT}", _dml),
)


def recognise(sql: str) -> tuple[Shape, re.Match]:
    statement = normalise(sql)
    for shape in RECOGNISED:
        if match := shape.match(statement):
            return shape, match
    raise UnrecognisedStatement(
        f"FakeRedshift does not know this statement; add its shape to RECOGNISED in tests/redshift_fake.py "
        f"(and so to the contract):\n{sql}"
    )


@dataclass
class FakeRedshift:
    """A redshift_connector connection that records what it is sent (``sent``)."""

    copied: int = 7  # rows every COPY loads
    refused: int = 2  # lines every COPY refuses (SYS_LOAD_HISTORY.error_count)
    listed: int | None = None  # refused lines SYS_LOAD_ERROR_DETAIL lists (default: all)
    rule_rows: int = 1  # staged rows breaking each staging rule
    rejected: int = 3  # staging_rejects rows of the run
    dml_rows: int = 5  # rows an INSERT / DELETE / UPDATE changes
    manifest: tuple | None = None  # staging_manifest's row: (fingerprint, run_id, checked_at, now)
    catalog_state: tuple = ()  # the catalog state query's rows: (staged, published, published_by)
    migrations_table: bool = False  # schema_migrations exists
    probes_hold: bool = False  # the answer of every applied-if probe
    # the records carrying each key, as drift_keys.sql counts them: "mood" is a new upstream key,
    # "ts" is missing from one record (the fake's COPY loads `copied` records)
    drift_keys: list = field(default_factory=lambda: [("artist", 7), ("ts", 6), ("mood", 2)])
    source: str = "?"
    sent: list[Sent] = field(default_factory=list)
    migrations: list[tuple] = field(default_factory=list)
    query_id: int = 41000
    autocommit: bool = False
    commits: int = 0
    closed: bool = False

    def __post_init__(self) -> None:
        if self.listed is None:
            self.listed = self.refused

    # DB-API
    def cursor(self) -> FakeCursor:
        return FakeCursor(self)

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    # answers
    def manifest_rows(self) -> list[tuple]:
        return [self.manifest] if self.manifest else []

    def copy(self) -> tuple[None, int]:
        self.query_id += 1
        return None, self.copied

    def column_checks(self, sql: str) -> list[tuple[str, str]]:
        return re.findall(r"'([\w.]+)' AS col_name, '(\w+)' AS check_type", sql)

    def create_migrations(self) -> tuple[None, int]:
        self.migrations_table = True
        return None, -1

    def record_migration(self, params) -> tuple[None, int]:
        version, name, checksum, applied_at, run_id, baseline = params
        self.migrations.append((version, name, checksum, applied_at, run_id, baseline))
        self.migrations.sort()
        return None, 1


class FakeCursor:
    """A redshift_connector cursor: ``paramstyle`` starts as the driver's module default."""

    def __init__(self, conn: FakeRedshift) -> None:
        self.conn = conn
        self.paramstyle = redshift_connector.paramstyle
        self.description: list | None = None
        self.rowcount = -1
        self._rows: list[tuple] = []

    def execute(self, operation: str, args: Any = None, stream=None, merge_socket_read=False) -> FakeCursor:
        shape, match = recognise(operation)
        self.conn.sent.append(Sent(operation, args, self.paramstyle, self.conn.source, shape.name))
        rows, self.rowcount = shape.answer(self.conn, match, args)
        self.description = None if rows is None else [("column",)]
        self._rows = list(rows or [])
        return self

    def executemany(self, operation: str, param_sets) -> FakeCursor:
        for params in param_sets:  # what redshift_connector does: one execute per set
            self.execute(operation, params)
        return self

    def fetchall(self) -> list[tuple]:
        return list(self._rows)

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchmany(self, size: int = 1) -> list[tuple]:
        return self._rows[:size]

    def close(self) -> None:
        pass


class FakeS3Client(FakeS3):
    """boto3's S3 client as staging uses it (tests/unit/staging/fakes.py), with the endpoint
    the error messages name; over a copy of the objects."""

    class meta:
        endpoint_url = "https://s3.fake.invalid"

    def __init__(self, objects: dict[str, bytes]) -> None:
        super().__init__(dict(objects))


class FakeCredentials:
    access_key: str = "AKIAFAKEFAKEFAKEFAKE"
    secret_key: str = "fake-secret-key-never-logged"
    token: str | None = None


def s3_hook_class(client: FakeS3Client) -> type:
    """A stand-in for ``S3Hook`` whose client is ``client``."""

    class StandInS3Hook:
        def __init__(self, aws_conn_id: str | None = None, **kwargs) -> None:
            self.aws_conn_id = aws_conn_id

        def get_conn(self) -> FakeS3Client:
            return client

        def get_credentials(self, region_name: str | None = None) -> FakeCredentials:
            return FakeCredentials()

    return StandInS3Hook


def manifest_row(fingerprint: str, checked_at: datetime, now: datetime) -> tuple:
    return (fingerprint, "scheduled__2018-11-15T00:00:00+00:00", checked_at, now)
