"""Staging: JSON objects in S3 -> a staging table, with one of two engines.

The engine is chosen at run time by the type of the warehouse connection:

* ``redshift``: a server-side ``COPY ... FROM 's3://...'`` (logs through the jsonpaths
  file, songs with ``JSON 'auto'``); Redshift reads S3 itself, in parallel.
* ``postgres`` (the local stand-in): the objects are streamed from S3 through the AWS
  connection into ``COPY ... FROM STDIN`` with the same column mapping (jsonpaths for
  logs, key names for songs). Plainly valid records are mapped in Python (rows.py) and
  sent as binary rows; any other record is parsed and checked by PostgreSQL itself, which
  decides what fits and why the rest does not. Memory stays flat whatever the object
  size: objects are read in chunks and never held whole.

Either way a staging load is one transaction: the table is emptied, reloaded and its
manifest row updated together, so a failed or killed load leaves the previous state.
Records that cannot be staged go to ``staging_rejects`` with their object key and line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from include.sparkify import config
from include.sparkify.window import Window

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # bytes read from S3 at a time
SMALL_OBJECT = 4 << 20  # objects up to this size are fetched whole, several at a time
FETCH_THREADS = 8
COPY_FLUSH = 1 << 20  # bytes buffered before each write to COPY
SPOOL_IN_MEMORY = 8 << 20  # suspect records kept in memory before spilling to a temporary file


class StagingError(RuntimeError):
    """A staging load that must fail the task (bad configuration, too many rejects)."""


@dataclass(frozen=True)
class Source:
    table: str
    prefix: str
    jsonpaths_key: str | None  # None: JSON 'auto' (keys match column names)
    skip_unchanged: bool  # skip the load when the objects are the ones staged last time
    keyed: bool = False  # rows carry their source_key: a load replaces only its objects' rows


# Records that parse and fit the columns but that the star schema cannot take are rejected
# too: (SQL condition on the staged row, the same condition in Python, reason). Both
# engines apply the SQL; the PostgreSQL engine's fast path (rows.py) uses the Python form
# only to send a suspect record to PostgreSQL, so the SQL always has the last word.
RULES = {
    "staging_events": [
        ("{r}ts IS NULL", "ts is None", "missing ts"),
        (
            "{r}userid <> '' AND NOT {r}userid ~ '^[0-9]{1,9}$'",
            "userid is not None and userid != '' and not (len(userid) <= 9 and userid.isascii() and userid.isdigit())",
            "userId is not a user number",
        ),
        (
            "{r}page = 'NextSong' AND COALESCE({r}userid, '') = ''",
            "page == 'NextSong' and not userid",
            "NextSong event without a userId",
        ),
        (
            "{r}page = 'NextSong' AND ({r}sessionid IS NULL OR {r}iteminsession IS NULL)",
            "page == 'NextSong' and (sessionid is None or iteminsession is None)",
            "NextSong event without sessionId or itemInSession",
        ),
    ],
    "staging_songs": [
        ("{r}song_id IS NULL", "song_id is None", "missing song_id"),
        ("{r}artist_id IS NULL", "artist_id is None", "missing artist_id"),
    ],
}

EVENTS = Source("staging_events", config.LOG_PREFIX, config.LOG_JSONPATHS_KEY, skip_unchanged=False, keyed=True)
SONGS = Source("staging_songs", config.SONG_PREFIX, None, skip_unchanged=True)
SOURCES = {s.table: s for s in (EVENTS, SONGS)}


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class Manifest:
    """What staging_manifest says of a staging table: the objects it last staged, and when
    they were last compared with the source."""

    fingerprint: str
    run_id: str
    checked_minutes_ago: float


@dataclass
class StageResult:
    table: str
    engine: str
    objects: int = 0
    bytes: int = 0
    records: int = 0
    rows: int = 0
    rejected: int = 0
    skipped_unchanged: bool = False
    missing_keys: list[str] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # the objects read (summarised past MAX_LISTED_SOURCES)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- objects
def list_objects(s3_client, bucket: str, source: Source, window: Window) -> tuple[list[S3Object], list[str], list[str]]:
    """The JSON objects a load reads, the expected keys that are missing, and keys ignored.

    A full load (or the song catalog) reads every ``.json`` object under the prefix; an
    interval load of the logs reads the daily files covering the interval.
    """
    if source is EVENTS and not window.full:
        wanted = window.log_keys(source.prefix)
        found = []
        for key in wanted:
            found += _list(s3_client, bucket, key, exact=True)
        present = {o.key for o in found}
        return found, [k for k in wanted if k not in present], []
    everything = _list(s3_client, bucket, source.prefix.rstrip("/") + "/")
    objects = [o for o in everything if o.key.endswith(".json")]
    ignored = [o.key for o in everything if not o.key.endswith(".json")]
    return objects, [], ignored


def _list(s3_client, bucket: str, prefix: str, exact: bool = False) -> list[S3Object]:
    out = []
    for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if exact and item["Key"] != prefix:
                continue
            out.append(S3Object(item["Key"], int(item["Size"]), item.get("ETag", "").strip('"')))
    out.sort(key=lambda o: o.key)
    return out


def fingerprint(objects: Iterable[S3Object]) -> str:
    digest = hashlib.sha256()
    for o in objects:
        digest.update(f"{o.key}\t{o.size}\t{o.etag}\n".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- jsonpaths
_PATH_TOKEN = re.compile(r"""\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\.([^.\[\]]+)|\[(\d+)\]""")


def parse_jsonpath(expr: str) -> list[str]:
    """``$['a']['b']`` / ``$.a.b`` / ``$['a'][0]`` -> ``['a', 'b']`` (a PostgreSQL text[] path)."""
    expr = expr.strip()
    if not expr.startswith("$"):
        raise StagingError(f"jsonpaths expression {expr!r} does not start with '$'")
    parts, pos = [], 1
    while pos < len(expr):
        match = _PATH_TOKEN.match(expr, pos)
        if not match:
            raise StagingError(f"cannot parse jsonpaths expression {expr!r} at position {pos}")
        parts.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    if not parts:
        raise StagingError(f"jsonpaths expression {expr!r} selects the whole record")
    return parts


def read_jsonpaths(s3_client, bucket: str, key: str) -> list[list[str]]:
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3_client.exceptions.NoSuchKey:
        raise StagingError(f"jsonpaths file s3://{bucket}/{key} does not exist") from None
    try:
        paths = json.loads(body)["jsonpaths"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StagingError(f"s3://{bucket}/{key} is not a jsonpaths file: {exc}") from None
    return [parse_jsonpath(p) for p in paths]


# --------------------------------------------------------------------------- the task
def stage(
    source: Source,
    window: Window,
    *,
    run_id: str,
    bucket: str,
    force: bool = False,
    redshift_conn_id: str = config.REDSHIFT_CONN_ID,
    aws_conn_id: str = config.AWS_CONN_ID,
    max_reject_fraction: float = config.MAX_REJECT_FRACTION,
) -> dict:
    """Stage ``source`` for ``window``; returns the figures that were logged."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import BaseHook
    from botocore.exceptions import BotoCoreError

    conn_type = BaseHook.get_connection(redshift_conn_id).conn_type
    s3_hook = S3Hook(aws_conn_id=aws_conn_id)
    s3_client = s3_hook.get_conn()
    try:
        return _stage(
            source, window, run_id, bucket, force, redshift_conn_id, conn_type, s3_hook, s3_client, max_reject_fraction
        )
    except BotoCoreError as exc:  # S3 unreachable or failing: the transaction was rolled back
        raise StagingError(
            f"{source.table}: cannot read s3://{bucket}/{source.prefix}/ from S3 "
            f"({s3_client.meta.endpoint_url}): {exc}. Nothing was staged; the task's retry reads again."
        ) from exc


def _stage(
    source: Source,
    window: Window,
    run_id: str,
    bucket: str,
    force: bool,
    redshift_conn_id: str,
    conn_type: str,
    s3_hook,
    s3_client,
    max_reject_fraction: float,
) -> dict:
    if conn_type == "redshift":
        engine = RedshiftEngine(redshift_conn_id, s3_hook, bucket)
    elif conn_type == "postgres":
        engine = PostgresEngine(redshift_conn_id, s3_client, bucket)
    else:
        raise StagingError(
            f"connection {redshift_conn_id!r} has type {conn_type!r}: expected 'redshift' (COPY from S3) "
            "or 'postgres' (the local stand-in, streamed from S3)"
        )
    result = StageResult(table=source.table, engine=conn_type)
    with engine:
        manifest = engine.manifest(source.table) if source.skip_unchanged and not force else None
        if manifest and not window.full and manifest.checked_minutes_ago < config.CATALOG_CHECK_MINUTES:
            # An hourly run between catalog checks: not even a listing (it grows with the catalog).
            result.skipped_unchanged = True
            log.info(
                "%s: the catalog under s3://%s/%s was checked %.0f min ago (staged by %s); the next check "
                "is due after %g min (SPARKIFY_CATALOG_CHECK_MINUTES). Keeping the staged catalog; "
                "restage_songs=true or a full load checks now.",
                source.table,
                bucket,
                source.prefix,
                manifest.checked_minutes_ago,
                manifest.run_id,
                config.CATALOG_CHECK_MINUTES,
            )
            return result.as_dict()

        objects, missing, ignored = list_objects(s3_client, bucket, source, window)
        for key in missing:
            log.warning("No source object s3://%s/%s for this window: staging zero rows from it.", bucket, key)
        if ignored:
            log.warning(
                "Ignoring %d object(s) under s3://%s/%s that are not .json: %s",
                len(ignored),
                bucket,
                source.prefix,
                ", ".join(ignored[:10]),
            )
        print_ = fingerprint(objects)
        result.missing_keys, result.ignored_keys = missing, ignored
        result.sources = describe_sources(bucket, source, objects)

        if manifest and manifest.fingerprint == print_:
            result.skipped_unchanged = True
            engine.mark_checked(source.table)
            engine.commit()
            log.info(
                "%s: the %d objects under s3://%s/%s are unchanged since they were last staged; keeping them.",
                source.table,
                len(objects),
                bucket,
                source.prefix,
            )
            return result.as_dict()
        engine.clear(source, run_id, replaced_days(source, window))
        engine.load(source, objects, window, run_id, result)
        engine.record(source.table, print_, result, run_id)
        engine.commit()
        log.info(
            "%s: staged %d rows from %d objects (%d bytes); %d of %d records rejected.",
            source.table,
            result.rows,
            result.objects,
            result.bytes,
            result.rejected,
            result.records,
        )
        if result.rejected:
            check_rejects(result, run_id, max_reject_fraction, engine)
    return result.as_dict()


MAX_LISTED_SOURCES = 31  # a month of day files is listed key by key; more is summarised


def describe_sources(bucket: str, source: Source, objects: list[S3Object]) -> list[str]:
    """The S3 objects a load read, for logs and asset-event metadata: every URI for a few,
    else one line for the prefix (a full catalog would not fit an XCom comfortably)."""
    if len(objects) <= MAX_LISTED_SOURCES:
        return [f"s3://{bucket}/{obj.key}" for obj in objects]
    return [f"s3://{bucket}/{source.prefix}/ ({len(objects)} objects, {sum(o.size for o in objects)} bytes)"]


def replaced_days(source: Source, window: Window) -> list[tuple[str, int, int]] | None:
    """What a load replaces: None for everything, else (object key, day start ms, day end ms)
    for each daily log file of the window. Loads of other days' files are left alone, so
    runs of different days can stage side by side (a backfill with max_active_runs > 1)."""
    if not source.keyed or window.full:
        return None
    day = 86_400_000
    return [
        (key, int(d.timestamp() * 1000), int(d.timestamp() * 1000) + day)
        for key, d in zip(window.log_keys(source.prefix), window.days())
    ]


def prefix_tag(source: Source) -> str:
    """source_key of rows a Redshift full load COPYs from the whole prefix (COPY does not say
    which object a row came from)."""
    return source.prefix.rstrip("/") + "/"


def check_rejects(result: StageResult, run_id: str, max_fraction: float, engine) -> None:
    samples = engine.reject_samples(result.table, run_id, limit=5)
    lines = "\n".join(f"  s3 object {key} line {line}: {reason}" for key, line, reason in samples)
    fraction = result.rejected / max(result.records, 1)
    message = (
        f"{result.table}: {result.rejected} of {result.records} records rejected ({fraction:.2%}); "
        f"see staging_rejects where run_id = '{run_id}'. First ones:\n{lines}"
    )
    if fraction > max_fraction:
        raise StagingError(
            f"{message}\nThis is over the reject threshold of {max_fraction:.2%} (SPARKIFY_MAX_REJECT_FRACTION)."
        )
    log.warning(message)


# --------------------------------------------------------------------------- engines
class _Engine:
    name = ""
    now = "LOCALTIMESTAMP"  # the current UTC time in this warehouse's SQL

    def __init__(self) -> None:
        self.conn = None

    def __enter__(self):
        self.conn = self.connect()
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()  # no-op after commit; undoes a failed load
            finally:
                self.conn.close()

    def commit(self) -> None:
        self.conn.commit()

    def query(self, sql: str, params=None) -> list[tuple]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
        finally:
            cur.close()

    def manifest(self, table: str) -> Manifest | None:
        rows = self.query(
            f"SELECT fingerprint, run_id, checked_at, {self.now} FROM staging_manifest WHERE staging_table = %s",
            (table,),
        )
        if not rows:
            return None
        print_, run_id, checked_at, now = rows[0]
        return Manifest(print_, run_id, (now - checked_at).total_seconds() / 60)

    def mark_checked(self, table: str) -> None:
        self.query(f"UPDATE staging_manifest SET checked_at = {self.now} WHERE staging_table = %s", (table,))

    def clear(self, source: Source, run_id: str, days: list[tuple[str, int, int]] | None) -> None:
        if days is None:
            self.empty(source.table)
        for key, day_start, day_end in days or []:
            self.query(
                f"DELETE FROM {_table(source.table)} WHERE source_key = %s "
                "OR (source_key = %s AND ts >= %s AND ts < %s)",
                (key, prefix_tag(source), day_start, day_end),
            )
        self.query("DELETE FROM staging_rejects WHERE staging_table = %s AND run_id = %s", (source.table, run_id))

    def empty(self, table: str) -> None:
        self.query(f"DELETE FROM {_table(table)}")

    def record(self, table: str, print_: str, result: StageResult, run_id: str) -> None:
        self.query("DELETE FROM staging_manifest WHERE staging_table = %s", (table,))
        self.query(
            "INSERT INTO staging_manifest (staging_table, fingerprint, objects, bytes, rows_staged, run_id, staged_at,"
            f" checked_at) VALUES (%s, %s, %s, %s, %s, %s, {self.now}, {self.now})",
            (table, print_, result.objects, result.bytes, result.rows, run_id),
        )

    def reject_samples(self, table: str, run_id: str, limit: int) -> list[tuple]:
        return self.query(
            "SELECT source_key, line_number, reason FROM staging_rejects WHERE staging_table = %s AND run_id = %s "
            f"ORDER BY source_key, line_number LIMIT {int(limit)}",
            (table, run_id),
        )


def _table(name: str) -> str:
    if name not in SOURCES:
        raise StagingError(f"unknown staging table {name!r}")
    return name


class RedshiftEngine(_Engine):
    """COPY from S3, executed by Redshift. Errors up to MAXERROR land in staging_rejects."""

    name = "redshift"
    now = "GETDATE()"

    def __init__(self, conn_id: str, s3_hook, bucket: str) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.s3_hook = s3_hook
        self.bucket = bucket

    def connect(self):
        from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

        conn = RedshiftSQLHook(redshift_conn_id=self.conn_id).get_conn()
        conn.autocommit = False
        return conn

    def query(self, sql: str, params=None) -> list[tuple]:
        cur = self.conn.cursor()
        cur.paramstyle = "format"
        try:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []
        finally:
            cur.close()

    def credentials(self) -> tuple[str, str]:
        """The COPY authorization clause, and the same clause as it may be logged."""
        role = config.REDSHIFT_IAM_ROLE or self.s3_hook.get_connection(self.s3_hook.aws_conn_id).extra_dejson.get(
            "role_arn", ""
        )
        if role:
            clause = f"IAM_ROLE '{_quote(role)}'"
            return clause, clause
        from airflow.providers.amazon.aws.utils.redshift import build_credentials_block

        block = build_credentials_block(self.s3_hook.get_credentials())
        return f"CREDENTIALS '{_quote(block)}'", "CREDENTIALS '***'"

    def load(self, source: Source, objects: list[S3Object], window: Window, run_id: str, result: StageResult) -> None:
        clause, logged_clause = self.credentials()
        if source is EVENTS and not window.full:
            uris = [f"s3://{self.bucket}/{o.key}" for o in objects]
        else:
            uris = [f"s3://{self.bucket}/{source.prefix.rstrip('/')}/"] if objects else []
        jsonpaths = f"s3://{self.bucket}/{source.jsonpaths_key}" if source.jsonpaths_key else None
        columns = None
        if source.keyed:  # COPY fills the data columns; source_key is set from what was copied
            columns = [
                r[0]
                for r in self.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (source.table,),
                )
                if r[0] != "source_key"
            ]
        per_object = source.keyed and not window.full
        target = f"incoming_{source.table}" if per_object else source.table
        if per_object:
            self.query(f"CREATE TEMP TABLE {target} (LIKE {_table(source.table)})")
        for uri in uris:
            statement = copy_statement(target, uri, jsonpaths, clause, config.S3_REGION, columns)
            log.info("Running: %s", copy_statement(target, uri, jsonpaths, logged_clause, config.S3_REGION, columns))
            self.query(statement)
            copied = self.query("SELECT pg_last_copy_count(), pg_last_copy_id()")[0]
            result.rows += int(copied[0])
            self.query(REDSHIFT_REJECTS, (source.table, run_id, int(copied[1])))
            if per_object:
                key = uri.split("/", 3)[3]
                cols = ", ".join(columns)
                self.query(
                    f"INSERT INTO {_table(source.table)} ({cols}, source_key) SELECT {cols}, %s FROM {target}", (key,)
                )
                self.query(f"DELETE FROM {target}")
        if source.keyed and not per_object:
            self.query(
                f"UPDATE {_table(source.table)} SET source_key = %s WHERE source_key IS NULL", (prefix_tag(source),)
            )
        if per_object:
            self.query(f"DROP TABLE {target}")
        result.rows -= self.apply_rules(source, run_id)
        result.objects = len(objects)
        result.bytes = sum(o.size for o in objects)
        result.rejected = int(
            self.query(
                "SELECT COUNT(*) FROM staging_rejects WHERE staging_table = %s AND run_id = %s", (source.table, run_id)
            )[0][0]
        )
        result.records = result.rows + result.rejected

    def apply_rules(self, source: Source, run_id: str) -> int:
        """Move staged rows that break a rule into staging_rejects; returns how many moved.
        COPY does not say which line a row came from: line_number 0, source the prefix."""
        columns = [
            r[0]
            for r in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
                (source.table,),
            )
        ]
        row_text = " || ' | ' || ".join(f"'{c}=' || NVL(CAST({c} AS VARCHAR), 'null')" for c in columns) or "''"
        moved = 0
        for cond, _, reason in RULES[source.table]:
            where = cond.replace("{r}", "")
            self.query(
                "INSERT INTO staging_rejects (staging_table, source_key, line_number, reason, raw_text, run_id, "
                f"rejected_at) SELECT %s, %s, 0, %s, {row_text}, %s, GETDATE() FROM {_table(source.table)} "
                f"WHERE {where}",
                (source.table, f"s3://{self.bucket}/{source.prefix}/ (COPY)", reason, run_id),
            )
            moved += int(self.query(f"SELECT COUNT(*) FROM {_table(source.table)} WHERE {where}")[0][0])
            self.query(f"DELETE FROM {_table(source.table)} WHERE {where}")
        return moved


def _column(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise StagingError(f"unexpected column name {name!r}")
    return name


def _quote(value: str) -> str:
    return value.replace("'", "''")


def copy_statement(
    table: str, s3_uri: str, jsonpaths_uri: str | None, credentials: str, region: str, columns: list[str] | None = None
) -> str:
    """The COPY Redshift runs for one staging load (credentials as given: pass a redacted clause to log it)."""
    json_option = f"'{_quote(jsonpaths_uri)}'" if jsonpaths_uri else "'auto'"
    target = _table(table.removeprefix("incoming_")) and table  # a staging table, or its incoming_ copy
    column_list = f" ({', '.join(_column(c) for c in columns)})" if columns else ""
    return (
        f"COPY {target}{column_list} FROM '{_quote(s3_uri)}' {credentials} "
        f"FORMAT AS JSON {json_option} REGION '{_quote(region)}' "
        f"MAXERROR {REDSHIFT_MAXERROR} COMPUPDATE OFF STATUPDATE OFF"
    )


# Lines Redshift refused are counted against MAXERROR and listed in SYS_LOAD_ERROR_DETAIL;
# copy them into staging_rejects so both engines report rejects the same way.
REDSHIFT_MAXERROR = 100000
REDSHIFT_REJECTS = """
INSERT INTO staging_rejects (staging_table, source_key, line_number, reason, raw_text, run_id, rejected_at)
SELECT %s, TRIM(file_name), line_number,
       TRIM(error_message) || ' (column ' || TRIM(column_name) || ')', NULL, %s, GETDATE()
FROM sys_load_error_detail
WHERE query_id = %s
"""


class PostgresEngine(_Engine):
    """Stream S3 objects into COPY FROM STDIN; PostgreSQL parses and maps the JSON."""

    name = "postgres"

    def __init__(self, conn_id: str, s3_client, bucket: str) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.s3 = s3_client
        self.bucket = bucket

    def connect(self):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.conn_id).get_conn()
        conn.autocommit = False
        return conn

    def empty(self, table: str) -> None:
        self.query(f"TRUNCATE {_table(table)}")  # transactional in PostgreSQL

    def columns(self, table: str) -> list[tuple[str, str]]:
        return self.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table,),
        )

    def load(self, source: Source, objects: list[S3Object], window: Window, run_id: str, result: StageResult) -> None:
        """Two paths in one transaction. Records that are plainly valid (rows.py) are mapped
        in Python and streamed into a binary COPY; the rest (if any) are spooled and then
        parsed, mapped and checked by PostgreSQL itself (POSTGRES_LOAD), which stages what
        fits and rejects the rest with the reason."""
        from psycopg import sql

        from include.sparkify.rows import compile_mapper

        columns = [c for c in self.columns(source.table) if c[0] != "source_key"]
        paths = None
        if source.jsonpaths_key:
            paths = read_jsonpaths(self.s3, self.bucket, source.jsonpaths_key)
            if len(paths) != len(columns):
                raise StagingError(
                    f"s3://{self.bucket}/{source.jsonpaths_key} has {len(paths)} paths but {source.table} has "
                    f"{len(columns)} columns: COPY maps them one to one, in order"
                )
        fields = [p[0] if len(p) == 1 else None for p in paths] if paths else [name for name, _ in columns]
        mapper = compile_mapper(columns, fields, [python for _, python, _ in RULES[source.table]])
        targets = [name for name, _ in columns] + (["source_key"] if source.keyed else [])
        binary_copy = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(source.table), sql.SQL(", ").join(map(sql.Identifier, targets))
        )

        suspect_count = fast_rows = 0
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
                    for number, reason, doc in lines:
                        result.records += 1
                        row = mapper(doc) if mapper is not None and not reason else None
                        if row is None:
                            suspects.write(b"%d\x02%d\x02%s\x02%s\n" % (idx, number, reason, doc))
                            suspect_count += 1
                        else:
                            write_row(row + extra)
                            fast_rows += 1
            cur.close()
            result.rows = fast_rows
            if suspect_count:
                log.info(
                    "%s: %d of %d records are not plainly valid; PostgreSQL parses and checks them.",
                    source.table,
                    suspect_count,
                    result.records,
                )
                suspects.seek(0)
                result.rows += self._load_suspects(source, objects, columns, paths, suspects, run_id)
        result.rejected = result.records - result.rows

    def _load_suspects(
        self,
        source: Source,
        objects: list[S3Object],
        columns: list[tuple[str, str]],
        paths: list[list[str]] | None,
        spool,
        run_id: str,
    ) -> int:
        """Stage the spooled records with PostgreSQL's own JSON parsing and type input
        functions; returns the rows staged (the others are in staging_rejects)."""
        from psycopg import sql

        if paths:
            mapped = sql.SQL("jsonb_build_object({})").format(
                sql.SQL(", ").join(
                    sql.SQL("{}, j -> {}").format(sql.Literal(name), sql.Literal(path[0]))
                    if len(path) == 1
                    else sql.SQL("{}, j #> {}").format(sql.Literal(name), sql.Literal(path))
                    for (name, _), path in zip(columns, paths)
                )
            )
        else:
            mapped = sql.SQL("j")
        if source.keyed:
            mapped = sql.SQL("{} || jsonb_build_object('source_key', p.source_key)").format(mapped)

        self.query("CREATE TEMP TABLE raw_objects (obj INTEGER, source_key TEXT) ON COMMIT DROP")
        self.query("CREATE TEMP TABLE raw_lines (obj INTEGER, line INTEGER, reason TEXT, doc TEXT) ON COMMIT DROP")
        cur = self.conn.cursor()
        with cur.copy("COPY raw_lines FROM STDIN WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')") as copy:
            while block := spool.read(COPY_FLUSH):
                copy.write(block)
        with cur.copy("COPY raw_objects FROM STDIN") as copy:
            for idx, obj in enumerate(objects):
                copy.write_row((idx, obj.key))

        column_types = sql.SQL(", ").join(
            sql.SQL("({}, {})").format(sql.Literal(name), sql.Literal(type_)) for name, type_ in columns
        )
        statement = sql.SQL(POSTGRES_LOAD).format(
            table=sql.Identifier(source.table),
            mapped=mapped,
            column_types=column_types,
            rule_case=sql.SQL(rule_case(source.table, prefix="r.")),
        )
        cur.execute(statement, {"table": source.table, "run_id": run_id})
        staged = cur.rowcount
        cur.close()
        return staged

    def _read(self, objects: list[S3Object]) -> Iterator[tuple[int, S3Object, Iterator[tuple[int, bytes, bytes]]]]:
        """Each object with its lines, in key order. Small objects are fetched several at a
        time (a bounded number ahead); large ones are streamed in chunks."""

        def fetch(obj: S3Object) -> bytes | None:
            if obj.size > SMALL_OBJECT:
                return None
            return self.s3.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()

        with ThreadPoolExecutor(FETCH_THREADS) as pool:
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
        first = b""
        for first in chunks:  # peek: a file that is one JSON array is read as its elements
            if first:
                break
        if first.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
            return idx, obj, split_array(first + b"".join(chunks))
        return idx, obj, split_lines(itertools.chain([first], chunks))

    def _stream(self, obj: S3Object) -> Iterator[bytes]:
        body = self.s3.get_object(Bucket=self.bucket, Key=obj.key)["Body"]
        try:
            yield from iter(lambda: body.read(CHUNK), b"")
        finally:
            body.close()


NULL = b""  # an empty unquoted CSV field is NULL


def split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, reject reason or NULL, text) for each non-blank line of a stream of chunks.

    Lines are split on LF; a trailing CR, a UTF-8 byte order mark and the missing final
    newline of the Sparkify files are all accepted. Lines that COPY could not carry (invalid
    UTF-8, NUL or the two delimiter bytes) come back with a reason and an escaped text.
    """
    number = 0
    rest = b""
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        if first:
            first = False
            if chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
        block = rest + chunk
        cut = block.rfind(b"\n")
        if cut < 0:
            rest = block
            continue
        rest = block[cut + 1 :]
        number = yield from _lines(block[:cut], number)
    if rest:
        yield from _lines(rest, number)


def _lines(block: bytes, number: int):
    clean = b"\x00" not in block and b"\x01" not in block and b"\x02" not in block
    if clean:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            clean = False
    for line in block.split(b"\n"):
        number += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if clean:
            yield number, NULL, line
            continue
        reason = _unsafe(line)
        if reason:
            yield (
                number,
                reason,
                line.decode("utf-8", "backslashreplace")
                .replace("\x00", "\\x00")
                .replace("\x01", "\\x01")
                .replace("\x02", "\\x02")
                .encode(),
            )
        else:
            yield number, NULL, line
    return number


def split_array(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """The elements of a file holding one JSON array, as (line where each starts, NULL, JSON).

    Whatever cannot be parsed from the first bad element on comes back as one rejected
    record holding the rest of the file, so nothing is lost.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1, b"invalid UTF-8 at byte %d" % exc.start, data.decode("utf-8", "backslashreplace").encode()
        return
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    line, counted = 1, 0

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    while True:
        pos = skip(pos)
        line += text.count("\n", counted, pos)
        counted = pos
        if pos < len(text) and text[pos] == "]" and not text[pos + 1 :].strip():
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            yield line, b"malformed JSON in a JSON array file", text[pos:].encode()
            return
        yield line, NULL, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif not (pos < len(text) and text[pos] == "]"):
            line += text.count("\n", counted, pos)
            counted = pos
            yield line, b"malformed JSON in a JSON array file", (text[pos:] or "<end of file>").encode()
            return


def _unsafe(line: bytes) -> bytes:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return b"invalid UTF-8 at byte %d" % exc.start
    for byte, name in ((b"\x00", b"NUL"), (b"\x01", b"\\x01"), (b"\x02", b"\\x02")):
        if byte in line:
            return b"control character %s in line" % name
    return b""


# One statement: parse every line, insert the records that fit the staging table, and put
# the others in staging_rejects with the reason (the first columns that do not fit).
# MATERIALIZED: otherwise PostgreSQL inlines the CTEs and parses each document once per
# column it extracts (measured: 20x slower on 142k events).
POSTGRES_LOAD = """
WITH parsed AS MATERIALIZED (
    SELECT l.obj, o.source_key, l.line, l.reason, l.doc,
           CASE WHEN l.reason IS NULL AND pg_input_is_valid(l.doc, 'jsonb') THEN l.doc::jsonb END AS j
    FROM raw_lines AS l JOIN raw_objects AS o ON o.obj = l.obj
),
mapped AS MATERIALIZED (
    SELECT p.*, CASE WHEN jsonb_typeof(p.j) = 'object' THEN {mapped} END AS m
    FROM parsed AS p
),
typed AS MATERIALIZED (
    SELECT m.*, (m.m IS NOT NULL AND jsonb_populate_record_valid(NULL::{table}, m.m)) AS fits
    FROM mapped AS m
),
checked AS (
    SELECT t.obj, t.source_key, t.line, t.reason, t.doc, t.j, t.m, t.fits, r AS rec,
           CASE WHEN t.fits THEN {rule_case} END AS rule_reason,
           t.fits AND {rule_case} IS NULL AS ok
    FROM typed AS t
    LEFT JOIN LATERAL jsonb_populate_record(NULL::{table}, CASE WHEN t.fits THEN t.m END) AS r ON TRUE
),
rejected AS (
    INSERT INTO staging_rejects (staging_table, source_key, line_number, reason, raw_text, run_id, rejected_at)
    SELECT %(table)s, c.source_key, c.line,
           CASE
               WHEN c.reason IS NOT NULL THEN c.reason
               WHEN c.j IS NULL THEN 'malformed JSON'
               WHEN c.m IS NULL THEN 'not a JSON object but a JSON ' || jsonb_typeof(c.j)
               WHEN c.rule_reason IS NOT NULL THEN c.rule_reason
               ELSE 'value does not fit its column: ' || COALESCE((
                   SELECT string_agg(t.name || ' ' || t.type || ' <- ' || LEFT(c.m ->> t.name, 40), '; ')
                   FROM (VALUES {column_types}) AS t (name, type)
                   WHERE jsonb_typeof(c.m -> t.name) <> 'null'
                     AND NOT pg_input_is_valid(c.m ->> t.name, t.type)
               ), 'unknown')
           END,
           c.doc, %(run_id)s, LOCALTIMESTAMP
    FROM checked AS c
    WHERE NOT c.ok
    RETURNING 1
)
INSERT INTO {table}
SELECT (c.rec).* FROM checked AS c
WHERE c.ok
"""


def rule_case(table: str, prefix: str = "") -> str:
    """CASE expression giving the first broken rule's reason for a row (columns prefixed), or NULL."""
    whens = " ".join(f"WHEN {cond.replace('{r}', prefix)} THEN '{reason}'" for cond, _, reason in RULES[table])
    return f"(CASE {whens} END)"
