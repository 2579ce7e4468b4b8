"""Schema migrations against a real PostgreSQL (the stack's embedded server), each test on
scratch databases of its own: the migrations build exactly the schema of include/sql/ddl/;
a warehouse of the first release upgraded to the newest keeps every row; an edited applied
migration is refused before anything runs; a second run applies nothing; a failing migration
leaves the recorded version and names its file and statement; a warehouse built by an
earlier release is adopted (baseline) without running what it has; create_tables emits the
schema asset only when the schema changed. (sqlfluff lints include/sql/migrations/ with the
rest of include/sql/ in tests/test_sql_lint.py.)"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from include.sparkify.migrations import MigrationError, apply_migrations

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "include" / "sql" / "migrations"
DDL = REPO / "include" / "sql" / "ddl"
HISTORY = sorted(p.name for p in MIGRATIONS.glob("*.sql"))
NEXT = f"{len(HISTORY) + 1:04d}"  # the version a probe migration takes after the real ones


# ---------------------------------------------------------------- scratch databases


@pytest.fixture
def new_db(stack):
    """Creates empty databases on the stack's server, owned by the role Airflow uses (created
    as the superuser); returns their DSNs as that role; drops them after."""
    names: list[str] = []

    def create() -> str:
        name = f"migrations_{uuid.uuid4().hex[:12]}"
        names.append(name)
        return stack.create_database(name)

    yield create
    for name in names:
        stack.drop_database(name)


def connect(dsn: str):
    import psycopg

    return psycopg.connect(dsn)  # autocommit off, as a hook's connection


def migrate(dsn: str, run_id: str = "test_run", directory: Path = MIGRATIONS) -> dict:
    with connect(dsn) as conn:
        return apply_migrations(conn, run_id, directory)


def run_sql_files(dsn: str, paths) -> None:
    """Executes whole files as an earlier release's create_tables did (no schema_migrations)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for path in paths:
            conn.execute(Path(path).read_text())


def query(dsn: str, sql: str, params=None) -> list[tuple]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def catalog(dsn: str) -> dict:
    """The schema as PostgreSQL's catalog describes it: per table, its columns in order (name,
    type, length, precision, scale, nullability, default) and its key constraints."""
    columns: dict[str, list[tuple]] = {}
    for table, *column in query(
        dsn,
        """
            SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision,
                   numeric_scale, is_nullable, column_default
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name <> 'schema_migrations'
            ORDER BY table_name, ordinal_position""",
    ):
        columns.setdefault(table, []).append(tuple(column))
    keys = query(
        dsn,
        """
        SELECT tc.table_name, tc.constraint_type, tc.constraint_name, kcu.column_name, kcu.ordinal_position
        FROM information_schema.table_constraints AS tc
        JOIN information_schema.key_column_usage AS kcu
          ON kcu.constraint_schema = tc.constraint_schema AND kcu.constraint_name = tc.constraint_name
         AND kcu.table_name = tc.table_name
        WHERE tc.table_schema = 'public' AND tc.table_name <> 'schema_migrations'
          AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
        ORDER BY 1, 3, 5""",
    )
    return {"columns": columns, "keys": keys}


def recorded(dsn: str) -> list[tuple]:
    return query(
        dsn, "SELECT version, name, checksum, applied_at, run_id, baseline FROM schema_migrations ORDER BY version"
    )


def table_names(dsn: str) -> set[str]:
    return {r[0] for r in query(dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_migrations(tmp_path: Path, upto: int | None = None) -> Path:
    """A copy of the migrations directory (the first ``upto`` files), to edit or extend."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    for name in HISTORY[:upto]:
        shutil.copy(MIGRATIONS / name, directory / name)
    return directory


# ---------------------------------------------------------------- the migrations are the ddl


@pytest.fixture(scope="module")
def ddl_catalog(stack):
    """The catalog of a database built from include/sql/ddl/*.sql."""
    name = f"migrations_ddl_{uuid.uuid4().hex[:8]}"
    dsn = stack.create_database(name)
    try:
        run_sql_files(dsn, sorted(DDL.glob("*.sql")))
        yield catalog(dsn)
    finally:
        stack.drop_database(name)


def test_the_migrations_build_exactly_the_ddl_schema(new_db, ddl_catalog):
    dsn = new_db()
    result = migrate(dsn, run_id="manual__fresh")
    assert result == {"version": len(HISTORY), "applied": HISTORY, "baselined": []}
    assert set(ddl_catalog["columns"]) == {p.stem for p in DDL.glob("*.sql")}  # one file per table
    built = catalog(dsn)
    for table in ddl_catalog["columns"]:  # table by table first, for a readable failure
        assert built["columns"].get(table) == ddl_catalog["columns"][table], table
    assert built == ddl_catalog
    rows = recorded(dsn)
    assert [(v, n, c, r, b) for v, n, c, _, r, b in rows] == [
        (i, name, sha256(MIGRATIONS / name), "manual__fresh", False) for i, name in enumerate(HISTORY, start=1)
    ]


# ---------------------------------------------------------------- upgrade keeps the data


def sample_rows(dsn: str, table: str, columns: list[tuple], n: int = 3) -> list[tuple]:
    """n distinct rows for ``table`` built from its column types, inserted; returns them."""

    def value(i: int, position: int, data_type: str, length: int | None):
        return {
            "integer": i * 100 + position,
            "bigint": 10**12 + i * 100 + position,
            "double precision": i + position / 4,
            "timestamp without time zone": datetime(2018, 11, 1, i, position, 30),
            "date": date(2018, 11, i),
            "boolean": i % 2 == 0,
            "numeric": Decimal(f"0.{i}{position}"),
        }.get(data_type, f"{table}-{i}-{position}"[: length or 64])

    rows = [tuple(value(i, p, c[1], c[2]) for p, c in enumerate(columns)) for i in range(1, n + 1)]
    marks = ", ".join(["%s"] * len(columns))
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(f'INSERT INTO "{table}" ({quoted(c[0] for c in columns)}) VALUES ({marks})', rows)
    return rows


def quoted(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def table_digest(dsn: str, table: str, names: list[str]) -> tuple[int, str]:
    """The row count and an MD5 over the rows' text, in order, of the columns ``names``."""
    ((count, digest),) = query(
        dsn,
        f"SELECT COUNT(*), MD5(COALESCE(STRING_AGG(r::TEXT, '|' ORDER BY r::TEXT), '')) "
        f'FROM (SELECT {quoted(names)} FROM "{table}") AS r',
    )
    return count, digest


@pytest.mark.parametrize("first_release", ["runner", "legacy"])
def test_upgrade_from_the_first_schema_keeps_every_row(new_db, tmp_path, ddl_catalog, first_release):
    """A warehouse at 0001 — applied by the runner, or created by an early release's
    create_tables (no schema_migrations) — with rows in every table, upgraded to the newest."""
    dsn = new_db()
    if first_release == "runner":
        assert migrate(dsn, directory=copy_migrations(tmp_path, upto=1))["applied"] == HISTORY[:1]
    else:
        run_sql_files(dsn, [MIGRATIONS / HISTORY[0]])
    before = catalog(dsn)["columns"]
    assert len(before) == 9
    inserted = {t: sample_rows(dsn, t, cols) for t, cols in before.items()}
    digests = {t: table_digest(dsn, t, [c[0] for c in cols]) for t, cols in before.items()}

    result = migrate(dsn, run_id="upgrade")

    baselined = HISTORY[:1] if first_release == "legacy" else []
    assert result == {"version": len(HISTORY), "applied": HISTORY[1:], "baselined": baselined}
    assert catalog(dsn) == ddl_catalog
    for table, cols in before.items():
        names = [c[0] for c in cols]
        assert digests[table][0] == 3 and table_digest(dsn, table, names) == digests[table], table
        kept = query(dsn, f'SELECT {quoted(names)} FROM "{table}"')
        assert sorted(kept) == sorted(inserted[table]), table
    # The new columns: source_key unknown for old rows; checked_at = when the row was staged.
    assert query(dsn, "SELECT COUNT(*) FROM staging_events WHERE source_key IS NULL") == [(3,)]
    at = [c[0] for c in before["staging_manifest"]].index("staged_at")
    staged = sorted(r[at] for r in inserted["staging_manifest"])
    assert sorted(query(dsn, "SELECT staged_at, checked_at FROM staging_manifest")) == [(s, s) for s in staged]
    assert query(dsn, "SELECT COUNT(*) FROM dq_history") == query(dsn, "SELECT COUNT(*) FROM daily_listening") == [(0,)]


# ---------------------------------------------------------------- guards


def test_an_edited_applied_migration_is_refused_before_anything_runs(new_db, tmp_path):
    dsn = new_db()
    directory = copy_migrations(tmp_path)
    migrate(dsn, directory=directory)
    before = recorded(dsn)
    edited = directory / HISTORY[1]
    original = sha256(edited)
    edited.write_text(edited.read_text() + "-- an afterthought\n")
    (directory / f"{NEXT}_probe_pending.sql").write_text("CREATE TABLE probe_pending (id INTEGER);\n")

    with pytest.raises(MigrationError) as caught:
        migrate(dsn, directory=directory)

    message = str(caught.value)
    assert HISTORY[1] in message and original in message and sha256(edited) in message
    assert "Nothing was applied" in message
    assert "probe_pending" not in table_names(dsn)
    assert recorded(dsn) == before


def test_a_second_run_applies_nothing(new_db):
    dsn = new_db()
    first = migrate(dsn, run_id="first")
    rows = recorded(dsn)
    columns = catalog(dsn)
    second = migrate(dsn, run_id="second")
    assert first["applied"] == HISTORY
    assert second == {"version": len(HISTORY), "applied": [], "baselined": []}
    assert recorded(dsn) == rows  # same rows: run_id "first", same applied_at
    assert catalog(dsn) == columns


def test_a_failing_migration_rolls_back_and_names_file_and_statement(new_db, tmp_path):
    dsn = new_db()
    directory = copy_migrations(tmp_path)
    migrate(dsn, directory=directory)
    broken = directory / f"{NEXT}_broken.sql"
    broken.write_text(
        "-- creates a table, then fails\nCREATE TABLE probe_created (id INTEGER);\n"
        "ALTER TABLE no_such_table ADD COLUMN x INTEGER;\n"
    )

    with pytest.raises(MigrationError) as caught:
        migrate(dsn, directory=directory)

    message = str(caught.value)
    assert f"{NEXT}_broken.sql" in message and "ALTER TABLE no_such_table ADD COLUMN x INTEGER" in message
    assert "rolled back" in message and f"version {len(HISTORY)}" in message
    assert "probe_created" not in table_names(dsn)
    assert [r[0] for r in recorded(dsn)] == list(range(1, len(HISTORY) + 1))

    # Fixed, it applies on the next run.
    broken.write_text("-- creates a table\nCREATE TABLE probe_created (id INTEGER);\n")
    assert migrate(dsn, directory=directory)["applied"] == [f"{NEXT}_broken.sql"]
    assert "probe_created" in table_names(dsn)


def test_a_no_transaction_migration_runs_in_autocommit(new_db, tmp_path):
    """VACUUM cannot run in a transaction block in PostgreSQL either: it runs only in autocommit."""
    dsn = new_db()
    directory = copy_migrations(tmp_path)
    (directory / f"{NEXT}_vacuum.sql").write_text(
        "-- migrate: no-transaction\n-- Reclaims space.\nVACUUM staging_events;\nVACUUM staging_songs;\n"
    )
    result = migrate(dsn, directory=directory)
    assert result["applied"][-1] == f"{NEXT}_vacuum.sql" and result["version"] == len(HISTORY) + 1
    assert recorded(dsn)[-1][1:3] == (f"{NEXT}_vacuum.sql", sha256(directory / f"{NEXT}_vacuum.sql"))


def test_a_failing_no_transaction_migration_keeps_the_version(new_db, tmp_path):
    dsn = new_db()
    directory = copy_migrations(tmp_path)
    migrate(dsn, directory=directory)
    (directory / f"{NEXT}_half.sql").write_text(
        "-- migrate: no-transaction\nCREATE TABLE probe_committed (id INTEGER);\nVACUUM no_such_table;\n"
    )
    with pytest.raises(MigrationError) as caught:
        migrate(dsn, directory=directory)
    message = str(caught.value)
    assert f"{NEXT}_half.sql" in message and "VACUUM no_such_table" in message and "statement 2 of 2" in message
    assert "probe_committed" in table_names(dsn)  # autocommit: the first statement stays
    assert len(recorded(dsn)) == len(HISTORY)


# ---------------------------------------------------------------- baseline


@pytest.mark.parametrize("level", range(1, len(HISTORY)))
def test_a_warehouse_of_an_earlier_release_is_adopted_then_upgraded(new_db, ddl_catalog, level):
    """Built by the release after migration ``level`` (its files run without the runner)."""
    dsn = new_db()
    run_sql_files(dsn, [MIGRATIONS / name for name in HISTORY[:level]])
    result = migrate(dsn, run_id="adopt")
    assert result == {"version": len(HISTORY), "applied": HISTORY[level:], "baselined": HISTORY[:level]}
    assert [(r[0], r[1], r[2], r[5]) for r in recorded(dsn)] == [
        (i, name, sha256(MIGRATIONS / name), i <= level) for i, name in enumerate(HISTORY, start=1)
    ]
    assert catalog(dsn) == ddl_catalog


def test_a_warehouse_built_from_todays_ddl_is_adopted_at_head_with_nothing_run(new_db, ddl_catalog):
    dsn = new_db()
    run_sql_files(dsn, sorted(DDL.glob("*.sql")))
    query(dsn, "INSERT INTO staging_manifest VALUES ('staging_songs', 'f', 1, 2, 3, 'r', '2018-11-01', '2018-11-02')")
    relations = "SELECT relname::TEXT, oid::BIGINT FROM pg_class WHERE relnamespace = 'public'::REGNAMESPACE"
    oids = dict(query(dsn, relations))

    result = migrate(dsn, run_id="adopt")

    assert result == {"version": len(HISTORY), "applied": [], "baselined": HISTORY}
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in recorded(dsn)] == [
        (i, name, sha256(MIGRATIONS / name), "adopt", True) for i, name in enumerate(HISTORY, start=1)
    ]
    assert catalog(dsn) == ddl_catalog
    # Nothing ran: no table was rebuilt (same relations), the row is as it was.
    after = dict(query(dsn, relations + " AND relname NOT LIKE 'schema_migrations%'"))
    assert after == oids
    assert query(dsn, "SELECT staged_at, checked_at FROM staging_manifest") == [
        (datetime(2018, 11, 1), datetime(2018, 11, 2))
    ]


def test_a_partial_old_warehouse_is_refused_then_adopted_once_repaired(new_db):
    """A warehouse missing one table of 0001 is not adopted: 0001 runs and fails on the first
    table that exists. Once the missing table is created by hand, the next run adopts it
    (schema_migrations is still empty)."""
    dsn = new_db()
    run_sql_files(dsn, [MIGRATIONS / HISTORY[0]])
    query(dsn, "DROP TABLE songs")

    with pytest.raises(MigrationError) as caught:
        migrate(dsn)
    message = str(caught.value)
    assert HISTORY[0] in message and "statement 1 of 9" in message and "CREATE TABLE staging_events" in message
    assert recorded(dsn) == []

    query(
        dsn,
        "CREATE TABLE songs (song_id VARCHAR(32) NOT NULL, title VARCHAR(1024), artist_id VARCHAR(32), "
        "year INTEGER, duration DOUBLE PRECISION, PRIMARY KEY (song_id))",
    )
    assert migrate(dsn) == {"version": len(HISTORY), "applied": HISTORY[1:], "baselined": HISTORY[:1]}


def test_a_failing_probe_creates_nothing(new_db, tmp_path):
    dsn = new_db()
    run_sql_files(dsn, [MIGRATIONS / HISTORY[0]])
    directory = copy_migrations(tmp_path, upto=1)
    path = directory / HISTORY[0]
    path.write_text(path.read_text().replace("-- applied-if: SELECT COUNT(*)", "-- applied-if: SELECT COUNT(nope)", 1))
    with pytest.raises(MigrationError, match=f"applied-if probe of {HISTORY[0]}"):
        migrate(dsn, directory=directory)
    assert "schema_migrations" not in table_names(dsn)


# ---------------------------------------------------------------- the DAG


def test_create_tables_emits_the_schema_asset_only_when_the_schema_changed(airflow_db, new_db, stack, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from dev.dagtest import run_dag_test
    from include.sparkify import config

    dsn = new_db()
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{config.REDSHIFT_CONN_ID.upper()}",
        json.dumps({**stack.redshift_conn(), "schema": dsn.rsplit("/", 1)[1]}),
    )
    dag = DagBag().dags["create_tables"]

    def run_and_look():
        run = run_dag_test(dag)
        states = {ti.task_id: ti.state for ti in run.get_task_instances()}
        with create_session() as session:
            extras = session.scalars(
                select(AssetEvent.extra).where(
                    AssetEvent.source_dag_id == "create_tables", AssetEvent.source_run_id == run.run_id
                )
            ).all()
        return run, (run.state, states, extras)

    first_run, first = run_and_look()
    assert first == (
        "success",
        {"Begin_execution": "success", "Create_tables": "success", "Stop_execution": "success"},
        [{"schema_version": len(HISTORY), "applied": HISTORY, "baselined": []}],
    )
    assert {r[4] for r in recorded(dsn)} == {first_run.run_id}

    second_run, second = run_and_look()
    assert second_run.run_id != first_run.run_id
    assert second == (
        "success",
        {"Begin_execution": "success", "Create_tables": "success", "Stop_execution": "skipped"},
        [],
    )
    assert {r[4] for r in recorded(dsn)} == {first_run.run_id}
