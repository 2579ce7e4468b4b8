"""The PostgreSQL engine (the local stand-in for Redshift): S3 objects streamed through the
AWS connection into ``COPY ... FROM STDIN``, with the same column mapping as Redshift's
COPY (jsonpaths for logs, key names for songs).

A whole object that is plainly valid is parsed by Arrow and sent as one CSV COPY
(columnar.py, when pyarrow is installed); in the other objects, plainly valid records are
mapped in Python (rows.py) and sent as binary rows, and any other record is parsed and
checked by PostgreSQL itself (include/sql/staging/postgres/), which decides what fits and
why the rest does not. Memory stays flat whatever the object size:
objects are read in chunks and never held whole.
"""

from __future__ import annotations

import itertools
import logging
import re
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from include.sparkify import config
from include.sparkify.staging import columnar, columnar_copy
from include.sparkify.staging.drift import DriftCounter
from include.sparkify.staging.engine import Engine
from include.sparkify.staging.fetch import ObjectReader
from include.sparkify.staging.lines import BOM, array_file, split_lines
from include.sparkify.staging.objects import S3Object, read_jsonpaths
from include.sparkify.staging.rows import compile_mapper
from include.sparkify.staging.sources import RULES, StageResult, StagingError, rule_case
from include.sparkify.staging.spool import spool, unspool
from include.sparkify.staging.statements import render

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read from S3 at a time
SMALL_OBJECT = 4 << 20  # objects up to this size are fetched whole, several at a time
FETCH_THREADS = 8
SPOOL_IN_MEMORY = 8 << 20  # suspect records kept in memory before spilling to a temporary file


class PostgresEngine(Engine):
    """Stream S3 objects into COPY FROM STDIN; PostgreSQL parses and maps what Python does not."""

    name = "postgres"

    def connect(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.run.redshift_conn_id).get_conn()
        conn.autocommit = False
        return conn

    def __enter__(self):
        super().__enter__()
        self.execute("postgres/session")
        return self

    def empty(self) -> None:
        self.query(f"TRUNCATE {self.run.table}")  # transactional in PostgreSQL

    def columns(self) -> list[tuple[str, str]]:
        return self.execute("postgres/column_types")

    def load(self, objects: list[S3Object], result: StageResult) -> None:
        """Three paths in one transaction: plainly valid whole objects through Arrow into a
        CSV COPY (columnar.py); in the others, plainly valid records mapped in Python into a
        binary COPY (rows.py), and the rest spooled, then parsed, mapped and checked by
        PostgreSQL, which stages what fits and rejects the rest with the reason."""
        from psycopg import sql

        source = self.run.source
        columns = [c for c in self.columns() if c[0] != "source_key"]
        paths = None
        if source.jsonpaths_key:
            paths = read_jsonpaths(self.s3, self.run.bucket, source.jsonpaths_key)
            if len(paths) != len(columns):
                raise StagingError(
                    f"{self.run.uri(source.jsonpaths_key)} has {len(paths)} paths but {source.table} has "
                    f"{len(columns)} columns: COPY maps them one to one, in order"
                )
        fields = [p[0] if len(p) == 1 else None for p in paths] if paths else [name for name, _ in columns]
        drift = DriftCounter(fields) if None not in fields else None  # a nested jsonpath: no drift count
        mapper = compile_mapper(
            columns, fields, [python for _, python, _ in RULES[source.table]], drift.observe if drift else None
        )
        targets = [name for name, _ in columns] + (["source_key"] if source.keyed else [])
        copy_into = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(source.table), sql.SQL(", ").join(map(sql.Identifier, targets))
        )
        binary_copy = sql.SQL("{} (FORMAT BINARY)").format(copy_into)
        reasons = [reason for _, _, reason in RULES[source.table]]
        converter = mapper and columnar.ColumnarConverter.create(columns, fields, reasons, source.keyed)
        if converter:  # whole objects that are plainly valid: Arrow, one CSV COPY
            csv_copy = sql.SQL("{} (FORMAT csv)").format(copy_into)
            objects = columnar_copy.copy_plain_objects(
                self.conn, self.s3, self.run.bucket, objects, converter, csv_copy, result, log
            )

        suspect_count = fast_rows = 0  # the row path, for the objects left
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as suspects:
            cur = self.conn.cursor()
            with cur.copy(binary_copy) as copy:
                if mapper is not None:
                    copy.set_types(mapper.copy_types + (["varchar"] if source.keyed else []))
                write_row = copy.write_row
                for idx, obj, lines in self._read(objects):
                    result.objects += 1
                    result.bytes += obj.size
                    extra = [obj.key] if source.keyed else []
                    for number, reason, doc, whole in lines:
                        result.records += 1
                        row = mapper(doc) if mapper is not None and not reason else None
                        if row is None:
                            spool(suspects, idx, number, reason, doc, whole)
                            suspect_count += 1
                        else:
                            write_row(row + extra)
                            fast_rows += 1
            cur.close()
            result.rows += fast_rows
            if suspect_count:
                log.info(
                    "%s: %d of %d records are not plainly valid; PostgreSQL parses and checks them.",
                    source.table,
                    suspect_count,
                    result.records,
                )
                suspects.seek(0)
                result.rows += self._load_suspects(objects, columns, paths, suspects)
        result.rejected = result.records - result.rows
        if drift is not None and mapper is not None:
            result.drift = drift.summary(result.records)

    def _load_suspects(
        self, objects: list[S3Object], columns: list[tuple[str, str]], paths: list[list[str]] | None, spool
    ) -> int:
        """Stage the spooled records with PostgreSQL's own JSON parsing and type input
        functions; returns the rows staged (the others go to staging_rejects)."""
        from psycopg import sql

        source = self.run.source
        mapped = sql.SQL("jsonb_build_object({})").format(
            sql.SQL(", ").join(
                sql.SQL("{}, {}").format(sql.Literal(name), _field(type_, path or [name]))
                for (name, type_), path in zip(columns, paths or [None] * len(columns))
            )
        )
        if source.keyed:
            mapped = sql.SQL("{} || jsonb_build_object('source_key', p.source_key)").format(mapped)

        self.execute("postgres/raw_lines")
        cur = self.conn.cursor()
        with cur.copy("COPY raw_lines FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int4", "text", "text", "int8", "text"])
            for row in unspool(spool):
                copy.write_row(row)
        with cur.copy("COPY raw_objects FROM STDIN") as copy:
            for idx, obj in enumerate(objects):
                copy.write_row((idx, obj.key))
        cur.close()

        column_types = sql.SQL(", ").join(
            sql.SQL("({}, {}, {})").format(sql.Literal(name), sql.Literal(type_), sql.Literal(_max_bytes(type_)))
            for name, type_ in columns
        )
        self.execute(
            "postgres/check_records",
            mapped=mapped.as_string(self.conn),
            column_types=column_types.as_string(self.conn),
            rule_case=rule_case(source.table, prefix="r."),
            too_long=_too_long(columns, "m.m").as_string(self.conn),
        )
        staged = self.execute("postgres/insert_checked")[0][0]
        self.insert_rejects(f"({render('postgres/checked_rejects')[0]})")
        return int(staged)

    def _read(self, objects: list[S3Object]) -> Iterator[tuple[int, S3Object, Iterator[tuple[int, bytes, bytes]]]]:
        """Each object with its lines, in key order. Small objects are fetched several at a
        time (a bounded number ahead); large ones are streamed in chunks."""

        def fetch(obj: S3Object) -> bytes | None:
            """A small object whole (bounded: it may have grown since it was listed), else None."""
            if obj.size > SMALL_OBJECT:
                return None
            data = reader.read(obj.key, SMALL_OBJECT + 1)
            return data if len(data) <= SMALL_OBJECT else None  # grown: streamed instead

        with ObjectReader(self.s3, self.s3_hook, self.run.bucket) as reader, ThreadPoolExecutor(FETCH_THREADS) as pool:
            pending = []
            ahead = FETCH_THREADS * 4
            for idx, obj in enumerate(objects):
                pending.append((idx, obj, pool.submit(fetch, obj)))
                if len(pending) > ahead:
                    yield self._emit(*pending.pop(0))
            for item in pending:
                yield self._emit(*item)

    def _emit(self, idx: int, obj: S3Object, future):
        body = future.result()
        chunks = iter([body] if body is not None else self._stream(obj))
        head = b""
        for chunk in chunks:  # peek: a file that is one JSON array is one record
            head += chunk
            if len(head) >= len(BOM) and head.removeprefix(BOM).lstrip(b" \t\r\n"):
                break
        if head.removeprefix(BOM).lstrip(b" \t\r\n").startswith(b"["):
            if hasattr(chunks, "close"):
                chunks.close()  # the rest of the file is not read: it is one rejected record
            return idx, obj, array_file(head)
        return idx, obj, split_lines(itertools.chain([head], chunks), config.MAX_RECORD_BYTES)

    def _stream(self, obj: S3Object) -> Iterator[bytes]:
        body = self.s3.get_object(Bucket=self.run.bucket, Key=obj.key)["Body"]
        try:
            yield from iter(lambda: body.read(CHUNK), b"")
        finally:
            body.close()


_NUMERIC = ("smallint", "integer", "bigint", "double precision", "real", "numeric")


def _field(pg_type: str, path: list[str]):
    """The JSON value a column takes. An empty string in a numeric column is NULL, as Redshift's
    COPY loads it ("Empty strings for other data types, such as INT, are always loaded with
    NULL": https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-conversion.html)."""
    from psycopg import sql

    value = (
        sql.SQL("j -> {}").format(sql.Literal(path[0]))
        if len(path) == 1
        else sql.SQL("j #> {}").format(sql.Literal(path))
    )
    if pg_type.startswith(_NUMERIC):
        return sql.SQL("NULLIF({}, '\"\"'::jsonb)").format(value)
    return value


def _max_bytes(pg_type: str) -> int | None:
    """The bytes a VARCHAR(n) column holds (n), else None."""
    match = re.fullmatch(r"character varying\((\d+)\)", pg_type)
    return int(match[1]) if match else None


def _too_long(columns: list[tuple[str, str]], record: str):
    """True when a string is longer in UTF-8 bytes than its VARCHAR(n) column: Redshift counts
    VARCHAR lengths in bytes, PostgreSQL in characters, and the stand-in must refuse what
    Redshift refuses (https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html)."""
    from psycopg import sql

    limits = [
        sql.SQL("OCTET_LENGTH({} ->> {}) > {}").format(sql.SQL(record), sql.Literal(name), sql.Literal(n))
        for name, type_ in columns
        if (n := _max_bytes(type_)) is not None
    ]
    return sql.SQL("({})").format(sql.SQL(" OR ").join(limits)) if limits else sql.SQL("FALSE")
