"""Candidate parsers for the local staging path, side by side (issue 14): can a columnar
C++ reader turn the log objects into COPY input fast enough, and does it stage the same
values as the Python fast path?

Each candidate reads the same log objects from S3 (the moto stand-in), parses them with an
explicit schema (the staging table's columns, by the jsonpaths' keys), writes CSV and COPYs
it into a scratch copy of ``staging_events``, in one process, timed end to end:

* ``pyarrow``: ``pyarrow.json.read_json`` per object, ``pyarrow.csv.write_csv``;
* ``duckdb``: ``read_json`` over the objects written to local files, ``COPY ... TO`` CSV.

The staged rows are then compared with what the Python fast path staged from the same
objects (``staging_events``, left by the staging benchmark): rows that differ, both ways.
Needs the bench-only requirements (requirements-bench.txt)."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path

# staging_events' column types -> the Arrow and DuckDB types the readers are told to produce
ARROW_TYPES = {"character varying": "string", "integer": "int32", "bigint": "int64", "double precision": "float64"}
DUCKDB_TYPES = {"character varying": "VARCHAR", "integer": "INTEGER", "bigint": "BIGINT", "double precision": "DOUBLE"}


def staging_columns(conn) -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'staging_events' "
            "AND column_name <> 'source_key' ORDER BY ordinal_position"
        ).fetchall()
    ]


def _scratch(conn, name: str) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE UNLOGGED TABLE {name} (LIKE staging_events)")
    conn.execute(f"ALTER TABLE {name} DROP COLUMN source_key")


def _copy_csv(conn, table: str, columns, chunks) -> None:
    statement = f"COPY {table} ({', '.join(c for c, _ in columns)}) FROM STDIN (FORMAT csv)"
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)


def _objects(s3, bucket: str, keys: list[str]):
    for key in keys:
        yield key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def with_pyarrow(conn, s3, bucket, keys, columns, fields) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson

    schema = pa.schema([(f, ARROW_TYPES[t]) for f, (_, t) in zip(fields, columns, strict=True)])
    parse = pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read = pjson.ReadOptions(block_size=8 << 20)
    write = pcsv.WriteOptions(include_header=False)
    failed: list[str] = []

    def chunks():
        for key, data in _objects(s3, bucket, keys):
            try:
                table = pjson.read_json(io.BytesIO(data), read_options=read, parse_options=parse)
            except pa.ArrowInvalid as exc:  # a whole object refused: the Python path's business
                failed.append(f"{key}: {str(exc)[:120]}")
                continue
            out = io.BytesIO()
            pcsv.write_csv(table.select(fields), out, write_options=write)
            yield out.getvalue()

    _scratch(conn, "parsed_pyarrow")
    started = time.perf_counter()
    _copy_csv(conn, "parsed_pyarrow", columns, chunks())
    return {"seconds": round(time.perf_counter() - started, 3), "objects_refused": failed}


def with_duckdb(conn, s3, bucket, keys, columns, fields) -> dict:
    import duckdb

    _scratch(conn, "parsed_duckdb")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, (_, data) in enumerate(_objects(s3, bucket, keys)):
            path = Path(tmp) / f"{n:05d}.json"
            path.write_bytes(data)
            paths.append(str(path))
        db = duckdb.connect()
        types = ", ".join(f"'{f}': '{DUCKDB_TYPES[t]}'" for f, (_, t) in zip(fields, columns, strict=True))
        select = ", ".join(f'"{f}"' for f in fields)
        csv_path = Path(tmp) / "out.csv"
        db.execute(
            f"COPY (SELECT {select} FROM read_json({paths!r}, columns = {{{types}}}, format = 'newline_delimited')) "
            f"TO '{csv_path}' (HEADER false)"
        )
        with open(csv_path, "rb") as source:
            _copy_csv(conn, "parsed_duckdb", columns, iter(lambda: source.read(1 << 20), b""))
    return {"seconds": round(time.perf_counter() - started, 3), "objects_refused": []}


def differences(conn, table: str, columns) -> dict:
    """Rows the candidate staged that the Python path did not, and the other way round."""
    cols = ", ".join(c for c, _ in columns)
    extra = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT {cols} FROM {table} EXCEPT ALL SELECT {cols} FROM staging_events) x"
    )
    missing = conn.execute(
        f"SELECT COUNT(*) FROM (SELECT {cols} FROM staging_events EXCEPT ALL SELECT {cols} FROM {table}) x"
    )
    rows = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return {
        "rows": rows,
        "rows_not_staged_by_python": extra.fetchone()[0],
        "python_rows_missing": missing.fetchone()[0],
    }
