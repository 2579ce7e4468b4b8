"""The Redshift contract: every statement the Redshift path can send, collected in process and
checked against what Amazon Redshift accepts. No service: Redshift and S3 are the stand-ins of
tests/redshift_fake.py, and Airflow runs no metadata database (connections come from
``AIRFLOW_CONN_*`` environment variables).

Collected (the module fixture ``sent``):

1. staging on the Redshift engine, through ``staging.stage_run``: events and songs, hourly and
   full windows, the default day-file log layout and an hour-partition one, the song catalog's
   manifest branches (none, changed, unchanged, checked recently, forced), the IAM role and the
   connection's keys; every COPY refuses lines, so the reject accounting runs;
2. every table load in every load mode (include/sparkify/loads.py) over an hourly and a full
   window, rendered by Airflow with the DAG's template search path and ``run_window`` macro and
   executed by SQLExecuteQueryOperator through RedshiftSQLHook;
3. the schema: what include/sparkify/migrations.py sends applying every migration to an empty
   warehouse and adopting a pre-migration one (the migrations' statements, schema_migrations'
   bookkeeping, the applied-if probes), and include/sql/ddl/*.sql;
4. the data-quality task group of final_project executed: the provider's column and table
   check queries, the relational checks of include/sql/checks/ and the dq_history inserts;
5. the analytics load (include/sparkify/analytics.py, include/sql/analytics/), and the
   monitoring queries of include/sql/monitoring/ that docs/operations.md has operators run.

Checked, each statement (``problems``):

* it parses with sqlglot's Redshift dialect as one statement; a statement sqlglot cannot parse
  (or only as an opaque ``Command``) must match a shape of ``UNPARSED_SHAPES`` instead;
* no PostgreSQL-only construct (``POSTGRES_ONLY``);
* its placeholders, after redshift_connector's paramstyle conversion, match its parameters;
* every bound parameter in a SELECT list is wrapped in CAST (a str is sent as type "unknown",
  which Redshift refuses there: aws/amazon-redshift-python-driver issue 59);
* every COPY has MANIFEST and only options Redshift's COPY knows;
* no unquoted identifier is a Redshift reserved word.
"""

from __future__ import annotations

import importlib.util
import json
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot
from redshift_connector.core import convert_paramstyle
from redshift_connector.error import InterfaceError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from include.sparkify import config, migrations
from include.sparkify.staging import sources
from include.sparkify.staging.layout import LogLayout
from include.sparkify.staging.objects import fingerprint, list_objects
from include.sparkify.window import Window
from tests.redshift_fake import (
    FakeRedshift,
    FakeS3Client,
    Sent,
    UnrecognisedStatement,
    manifest_row,
    normalise,
    s3_hook_class,
    scrub,
)

REPO = Path(__file__).resolve().parents[1]
BUCKET = "sparkify-contract"
RUN_ID = "scheduled__2018-11-15T14:00:00+00:00"
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
HOUR = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))
NO_DAY_FILE = Window(datetime(2018, 11, 20, 13, tzinfo=UTC), datetime(2018, 11, 20, 14, tzinfo=UTC))
FULL = Window()
HOUR_PARTITIONS = "log_data/%Y/%m/%d/%H/"
OBJECTS = {
    "log_data/2018/11/2018-11-15-events.json": b'{"ts": 1542286800000}\n',
    "log_data/2018/11/2018-11-16-events.json": b'{"ts": 1542373200000}\n',
    "log_data/2018/11/15/13/part-0000.json": b'{"ts": 1542286800000}\n',
    "log_data/2018/11/15/13/part-0001.json": b'{"ts": 1542287000000}\n',
    "log_data/2018/11/15/14/part-0000.json": b'{"ts": 1542290400000}\n',  # late minutes after 13:00-14:00
    "log_data/_SUCCESS": b"",
    "log_json_path.json": b'{"jsonpaths": ["$.ts"]}',
    "song_data/A/A/A/TRAAA.json": b'{"song_id": "SOAAA"}',
    "song_data/A/B/C/TRABC.json": b'{"song_id": "SOABC"}',
}
REDSHIFT_CONNECTION = {
    "conn_type": "redshift",
    "host": "sparkify.123456789012.us-west-2.redshift-serverless.amazonaws.com",
    "port": 5439,
    "login": "admin",
    "password": "not-a-real-redshift-password",
    "schema": "dev",
}
SOURCES = ("staging", "loads", "migrations", "ddl", "quality", "analytics", "monitoring")


# ====================================================================== the checks
# PostgreSQL constructs Amazon Redshift does not have, matched outside string literals and
# comments. Not in this list: the `::` cast, which is valid Redshift
# (https://docs.aws.amazon.com/redshift/latest/dg/r_CAST_function.html), and CREATE/REFRESH
# MATERIALIZED VIEW, which Redshift has (the CTE hint `AS [NOT] MATERIALIZED` it does not).
POSTGRES_ONLY = {
    "ON CONFLICT": r"\bON\s+CONFLICT\b",
    "DISTINCT ON": r"\bDISTINCT\s+ON\s*\(",
    "MATERIALIZED (other than a materialized view)": r"\bMATERIALIZED\b(?!\s+VIEW\b)",
    "jsonb": r"\bJSONB\w*\b",
    "string_agg": r"\bSTRING_AGG\s*\(",
    "array_agg": r"\bARRAY_AGG\s*\(",
    "RETURNING": r"\bRETURNING\b",
    "TRUNCATE (commits the transaction on Redshift)": r"\bTRUNCATE\b",
    "regclass": r"\bREGCLASS\b",
    "pg_input_is_valid": r"\bPG_INPUT_IS_VALID\s*\(",
    "LOCALTIMESTAMP": r"\bLOCALTIMESTAMP\b",
    "COPY FROM STDIN": r"\bFROM\s+STDIN\b",
    "aggregate FILTER (WHERE ...)": r"\bFILTER\s*\(\s*WHERE\b",
    "serial types": r"\b(?:SMALL|BIG)?SERIAL\b",
    "UNLOGGED": r"\bUNLOGGED\b",
    "GENERATED ... AS IDENTITY": r"\bGENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b",
    "CREATE INDEX": r"\bCREATE\s+(?:UNIQUE\s+)?INDEX\b",
}

# Statement shapes sqlglot 30 does not parse into a checkable tree (it raises, or falls back to
# an opaque exp.Command and logs "unsupported syntax"), each valid Redshift; checked by this
# regex (on the statement without comments, whitespace collapsed) instead of being skipped.
_NAME = r'(?:"[a-z_][a-z0-9_]*"|[a-z_][a-z0-9_]*)'
UNPARSED_SHAPES = {
    # https://docs.aws.amazon.com/redshift/latest/dg/r_LOCK.html: LOCK [ TABLE ] table_name [, ...]
    "LOCK": re.compile(rf"LOCK (?:TABLE )?{_NAME}(?:, {_NAME})*", re.IGNORECASE),
}

# COPY: sqlglot parses it, but pairs the options loosely (MANIFEST takes MAXERROR as its value),
# so its options are checked here against Redshift's COPY syntax
# (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html) for the ones this project uses.
_LITERAL = r"'(?:[^']|'')*'"
COPY_HEAD = re.compile(
    rf"COPY (?P<table>{_NAME})(?: \({_NAME}(?:, {_NAME})*\))? FROM (?P<uri>{_LITERAL}) (?P<options>.*)", re.IGNORECASE
)
COPY_OPTIONS = {
    "IAM_ROLE": rf"IAM_ROLE {_LITERAL}",
    "CREDENTIALS": rf"CREDENTIALS (?:AS )?{_LITERAL}",
    "FORMAT": rf"(?:FORMAT (?:AS )?)?JSON (?:AS )?{_LITERAL}",
    "REGION": rf"REGION (?:AS )?{_LITERAL}",
    "MANIFEST": r"MANIFEST",
    "MAXERROR": r"MAXERROR (?:AS )?\d+",
    "COMPUPDATE": r"COMPUPDATE (?:ON|OFF|TRUE|FALSE|PRESET)",
    "STATUPDATE": r"STATUPDATE (?:ON|OFF|TRUE|FALSE)",
    "TIMEFORMAT": rf"TIMEFORMAT (?:AS )?{_LITERAL}",
    "TRUNCATECOLUMNS": r"TRUNCATECOLUMNS",
    "BLANKSASNULL": r"BLANKSASNULL",
    "EMPTYASNULL": r"EMPTYASNULL",
    "ACCEPTINVCHARS": rf"ACCEPTINVCHARS(?: (?:AS )?{_LITERAL})?",
}

# Amazon Redshift's reserved words (https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html):
# an unquoted identifier spelled like one is a syntax error on Redshift, even where PostgreSQL
# accepts it.
RESERVED = set(
    """AES128 AES256 ALL ALLOWOVERWRITE ANALYSE ANALYZE AND ANY ARRAY AS ASC AUTHORIZATION AZ64 BACKUP
    BETWEEN BINARY BLANKSASNULL BOTH BYTEDICT BZIP2 CASE CAST CHECK COLLATE COLUMN CONSTRAINT CREATE
    CREDENTIALS CROSS CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURRENT_USER_ID DEFAULT
    DEFERRABLE DEFLATE DEFRAG DELTA DELTA32K DESC DISABLE DISTINCT DO ELSE EMPTYASNULL ENABLE ENCODE
    ENCRYPT ENCRYPTION END EXCEPT EXPLICIT FALSE FOR FOREIGN FREEZE FROM FULL GLOBALDICT256 GLOBALDICT64K
    GRANT GROUP GZIP HAVING IDENTITY IGNORE ILIKE IN INITIALLY INNER INTERSECT INTERVAL INTO IS ISNULL
    JOIN LEADING LEFT LIKE LIMIT LOCALTIME LOCALTIMESTAMP LUN LUNS LZO LZOP MINUS MOSTLY16 MOSTLY32
    MOSTLY8 NATURAL NEW NOT NOTNULL NULL NULLS OFF OFFLINE OFFSET OID OLD ON ONLY OPEN OR ORDER OUTER
    OVERLAPS PARALLEL PARTITION PERCENT PERMISSIONS PIVOT PLACING PRIMARY RAW READRATIO RECOVER
    REFERENCES REJECTLOG RESORT RESPECT RESTORE RIGHT SELECT SESSION_USER SIMILAR SNAPSHOT SOME SYSDATE
    SYSTEM TABLE TAG TDES TEXT255 TEXT32K THEN TIMESTAMP TO TOP TRAILING TRUE TRUNCATECOLUMNS UNION
    UNIQUE UNNEST UNPIVOT USER USING VERBOSE WALLET WHEN WHERE WITH WITHOUT""".split()
)

# Parameters a statement may be given without naming them. With paramstyle pyformat,
# redshift_connector binds the keys a statement names and ignores the others, so these are
# harmless; any other unused key is reported (a parameter the SQL forgot).
UNUSED_PARAMETERS_ALLOWED = {
    # Engine.execute passes the staging table and run id with every include/sql/staging statement.
    "*": {"table", "run_id"},
    # clear_partition.sql names key_length only in its prefix form (hour-partition layouts).
    "clear partition or rule rows": {"key_length"},
    # manifest_record.sql: Engine.execute gives both its statements the same parameters; the
    # INSERT names these, the DELETE before it does not.
    "manifest delete": {"fingerprint", "objects", "bytes", "rows_staged"},
}


class _ReadingDict(dict):
    """A mapping that remembers which keys the driver read."""

    def __init__(self, data: Mapping) -> None:
        super().__init__(data)
        self.read: set = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def driver_view(sql: str, params, paramstyle: str, shape: str = "") -> tuple[str, list[str]]:
    """The statement as Redshift receives it, and what is wrong with its parameters.

    redshift_connector converts the paramstyle only when parameters are given (``vals is not
    None``, ``Connection.execute``): ``convert_paramstyle`` turns each placeholder into ``$n``
    and returns a function that picks the values, in order, from the parameters."""
    if params is None:
        return sql, []
    try:
        received, make_args = convert_paramstyle(paramstyle, sql)
    except InterfaceError as exc:
        return sql, [f"redshift_connector refuses it with paramstyle {paramstyle!r}: {exc}"]
    values = _ReadingDict(params) if isinstance(params, Mapping) else params
    try:
        args = make_args(values)
    except KeyError as exc:
        return received, [f"placeholder %({exc.args[0]})s has no value among the parameters {sorted(params)}"]
    numbers = sorted({int(n) for n in re.findall(r"\$(\d+)", scrub(received, literals=False))})
    problems = []
    if numbers != list(range(1, len(args) + 1)):
        problems.append(
            f"{len(numbers)} placeholder(s) after conversion ({paramstyle}) but {len(args)} value(s): {params!r}"
        )
    if isinstance(values, _ReadingDict):
        unused = (
            set(params) - values.read - UNUSED_PARAMETERS_ALLOWED["*"] - UNUSED_PARAMETERS_ALLOWED.get(shape, set())
        )
        if unused:
            problems.append(f"parameter(s) {sorted(unused)} given but not in the statement")
    return received, problems


def parse(sql: str) -> tuple[exp.Expression | None, list[str]]:
    """sqlglot's Redshift tree of one statement (None when it has none), or why not.

    Given the statement as the project writes it (placeholders %s, %(name)s): the driver's
    conversion only renumbers them $1, $2, ..., which sqlglot's tokenizer can take for a
    dollar-quoted string ("$1,$2" reads as '$1,$')."""
    statement = " ".join(scrub(sql).split())
    shape = next((name for name, pattern in UNPARSED_SHAPES.items() if pattern.fullmatch(statement)), None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trees = [t for t in sqlglot.parse(sql, read="redshift") if t is not None]
    except (ParseError, TokenError) as exc:
        if shape:
            return None, []
        return None, [f"sqlglot cannot parse it as Redshift: {str(exc).splitlines()[0]}"]
    if len(trees) != 1:
        return None, [f"{len(trees)} statements in one execute"]
    if isinstance(trees[0], exp.Command):
        if shape:
            return None, []
        return None, [f"sqlglot parses it only as an opaque command and no UNPARSED_SHAPES entry matches: {statement}"]
    return trees[0], []


def postgres_only(sql: str) -> list[str]:
    text = scrub(sql, literals=False)
    return [f"PostgreSQL-only: {name}" for name, pattern in POSTGRES_ONLY.items() if re.search(pattern, text, re.I)]


def unbound_placeholders(tree: exp.Expression | None, sql: str) -> list[str]:
    """A statement sent without parameters must not hold placeholders."""
    if tree is not None:
        found = [n.sql("redshift") for n in tree.find_all(exp.Placeholder, exp.Parameter)]
    else:
        found = re.findall(r"%\(\w+\)s|%s|\$\d+", scrub(sql, literals=False))
    return [f"placeholder {p} sent without parameters" for p in found]


def uncast_select_parameters(tree: exp.Expression | None) -> list[str]:
    """Bound parameters in a SELECT list that are not the operand of a CAST."""
    if tree is None:
        return []
    bare = []
    for node in tree.find_all(exp.Placeholder, exp.Parameter):
        child, parent = node, node.parent
        while parent is not None and not isinstance(parent, exp.Select):
            child, parent = parent, parent.parent
        if parent is None or child.arg_key != "expressions":
            continue  # not in a SELECT list (WHERE, VALUES, SET, ...): Redshift types it from its context
        holder = node.parent
        while isinstance(holder, exp.Paren):
            holder = holder.parent
        if not (isinstance(holder, exp.Cast) and holder.this.find(type(node)) is node):
            bare.append(node.sql("redshift"))
    return [f"bound parameter {p} in a SELECT list without CAST (sent as type unknown)" for p in bare]


def copy_problems(sql: str) -> list[str]:
    statement = " ".join(scrub(sql).split())
    if not re.match(r"COPY\b", statement, re.IGNORECASE):
        return []
    head = COPY_HEAD.fullmatch(statement)
    if not head:
        return [f"COPY not of the shape COPY table [(columns)] FROM 'uri' options: {statement}"]
    problems, options, seen = [], head["options"], []
    while options:
        name = next((n for n, p in COPY_OPTIONS.items() if re.match(rf"{p}(?: |$)", options, re.I)), None)
        if name is None:
            problems.append(f"COPY option Redshift does not know here: {options.split()[0]}")
            break
        seen.append(name)
        options = re.sub(rf"^{COPY_OPTIONS[name]} ?", "", options, count=1, flags=re.I)
    if "MANIFEST" not in seen:
        problems.append("COPY without MANIFEST (it would load every object whose key starts with its FROM)")
    if sum(n in ("IAM_ROLE", "CREDENTIALS") for n in seen) != 1:
        problems.append("COPY without exactly one authorization (IAM_ROLE or CREDENTIALS)")
    if not head["uri"].startswith("'s3://"):
        problems.append(f"COPY from {head['uri']}, not from S3")
    return problems


def reserved_identifiers(tree: exp.Expression | None) -> list[str]:
    if tree is None:
        return []
    names = {
        i.name
        for i in tree.find_all(exp.Identifier)
        if not i.quoted
        and i.name.upper() in RESERVED
        and not isinstance(i.parent, (exp.Placeholder, exp.Parameter))  # %(table)s names a parameter
    }
    return [f"unquoted identifier {n} is a Redshift reserved word" for n in sorted(names)]


def problems(sent: Sent) -> list[str]:
    """Everything Redshift would object to in one statement as sent."""
    received, found = driver_view(sent.sql, sent.params, sent.paramstyle, sent.shape)
    tree, parse_found = parse(sent.sql)
    found += parse_found + postgres_only(received) + copy_problems(received) + reserved_identifiers(tree)
    if sent.params is None:
        found += unbound_placeholders(tree, sent.sql)
    found += uncast_select_parameters(tree)
    return found


# Real incompatibilities the contract found in include/ (reported, not fixed here): a regex
# matching the statement (comments dropped, whitespace collapsed) -> why it fails on Redshift.
# Such a statement is left out of test_every_statement_is_redshift_sql and checked by its own
# strict xfail, which fails once include/ is fixed so the entry is removed. None known.
KNOWN_INCOMPATIBLE: dict[str, str] = {}


def known_incompatible(sent: Sent) -> bool:
    return any(re.search(pattern, normalise(sent.sql)) for pattern in KNOWN_INCOMPATIBLE)


# ====================================================================== collecting
class Collector:
    """Hands out a FakeRedshift per scenario (through RedshiftSQLHook.get_conn) and keeps
    what each was sent."""

    def __init__(self) -> None:
        self.fakes: list[FakeRedshift] = []
        self.current: FakeRedshift | None = None

    def use(self, source: str, **state) -> FakeRedshift:
        self.current = FakeRedshift(source=source, **state)
        self.fakes.append(self.current)
        return self.current

    @property
    def sent(self) -> list[Sent]:
        return [s for fake in self.fakes for s in fake.sent]


def load_dag(name: str):
    """The @dag function of dags/<name>.py, its module executed afresh: each call of it builds a
    new DAG whose operators have not been rendered or run yet."""
    spec = importlib.util.spec_from_file_location(f"redshift_contract_{name}", REPO / "dags" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def dag_run(window: Window) -> SimpleNamespace:
    return SimpleNamespace(
        data_interval_start=window.start,
        data_interval_end=window.end,
        run_id=RUN_ID,
        dag_id="final_project",
        partition_key=None if window.full else f"{window.start:%Y-%m-%d}",  # a rollup's day
    )


class StandInTI:
    """What the load and check operators ask of their task instance."""

    def __init__(self, task) -> None:
        self.dag_id, self.task_id, self.run_id, self.try_number = task.dag_id, task.task_id, RUN_ID, 1

    def xcom_pull(self, task_ids):
        return [{"table": t, "objects": 1, "rows": 7, "sources": [f"s3://{BUCKET}/{t}"]} for t in task_ids]


def run_sql_task(collector: Collector, task, window: Window, source: str, **state) -> FakeRedshift:
    """Render ``task``'s templates the way Airflow does (its DAG's Jinja environment) and
    execute it: its hook is RedshiftSQLHook, whose connection is a FakeRedshift (``state``)."""
    fake = collector.use(source, **state)
    context = {
        "dag_run": dag_run(window),
        "run_id": RUN_ID,
        "ti": StandInTI(task),
        "outlet_events": defaultdict(lambda: SimpleNamespace(extra={}, add_partitions=lambda keys: None)),
        "params": dict(getattr(task, "params", None) or {}),
    }
    task.render_template_fields(context)
    task.execute(context)
    return fake


def collect_staging(collector: Collector, mp: pytest.MonkeyPatch) -> None:
    from include.sparkify import staging

    s3 = FakeS3Client(OBJECTS)
    mp.setattr("include.sparkify.staging.s3_hook.SharedModelsS3Hook", s3_hook_class(s3))
    mp.setattr(config, "CATALOG_CHECK_MINUTES", 1440.0)
    mp.setattr(config, "MANIFEST_PREFIX", "_sparkify/copy-manifests")
    by_hour = replace(sources.EVENTS, layout=LogLayout(HOUR_PARTITIONS, 60))
    assert by_hour.prefix == sources.EVENTS.prefix  # the same objects under log_data/ for a full load

    def stage(source, window, role=ROLE, **state):
        mp.setattr(config, "REDSHIFT_IAM_ROLE", role)
        force = state.pop("force", False)
        fake = collector.use("staging", **state)
        run = sources.StagingRun(source, window, RUN_ID, BUCKET, max_reject_fraction=1.0, force=force)
        result = staging.stage_run(run)
        every_copy = [s for s in fake.sent if s.shape == "copy"]
        for copy in every_copy:  # each COPY reads a manifest written to the bucket before it
            uri = re.search(r"FROM '(s3://[^']+)'", copy.sql)[1]
            assert uri.removeprefix(f"s3://{BUCKET}/") in s3.objects, uri
        # one more COPY loads the records whole (JSON 'noshred') to count schema drift
        whole = [c for c in every_copy if c.sql.startswith("COPY raw_records ")]
        assert len(whole) == (1 if every_copy else 0) and all("FORMAT AS JSON 'noshred'" in c.sql for c in whole)
        return result, [c for c in every_copy if c not in whole]

    # the logs: day files (the default template) and hour partitions, hourly and full
    result, copies = stage(sources.EVENTS, HOUR)
    assert len(copies) == 1 and result["rejected"] == 3 and result["rows"] == 7 - 4  # 4 rules moved a row each
    # the fake's UNPIVOT counts (drift_keys) against the contract's jsonpaths ($.ts alone): keys
    # it does not map in 7 and 2 of the 7 records, ts missing from 1
    assert result["drift"] == {
        "records": 7,
        "keys": {
            "artist": {"kind": "unknown", "records": 7},
            "mood": {"kind": "unknown", "records": 2},
            "ts": {"kind": "missing", "records": 1},
        },
        "warn": True,
    }
    assert len(stage(sources.EVENTS, FULL, role="")[1]) == 1  # the connection's keys (no COPY role)
    assert stage(sources.EVENTS, NO_DAY_FILE, rule_rows=0, rejected=0)[0]["missing_keys"] == [
        "log_data/2018/11/2018-11-20-events.json"
    ]
    mp.setitem(sources.SOURCES, "staging_events", by_hour)
    assert len(stage(by_hour, HOUR)[1]) == 3  # two objects of 13:00, one of the late minutes after 14:00
    assert len(stage(by_hour, FULL)[1]) == 1
    mp.setitem(sources.SOURCES, "staging_events", sources.EVENTS)
    # the song catalog: first load, changed, unchanged, checked recently, forced
    songs = sources.SONGS
    now = datetime(2018, 11, 15, 14, 5)
    listed = fingerprint(list_objects(s3, sources.StagingRun(songs, HOUR, RUN_ID, BUCKET))[0])
    assert len(stage(songs, FULL)[1]) == 1
    assert len(stage(songs, HOUR, manifest=manifest_row("0" * 64, now - timedelta(days=2), now))[1]) == 1
    assert stage(songs, HOUR, manifest=manifest_row(listed, now - timedelta(days=2), now))[0]["skipped_unchanged"]
    assert stage(songs, HOUR, manifest=manifest_row(listed, now - timedelta(minutes=5), now))[0]["skipped_unchanged"]
    assert len(stage(songs, HOUR, role="", force=True, manifest=manifest_row(listed, now, now))[1]) == 1


def collect_loads_quality_analytics(collector: Collector) -> None:
    from airflow.providers.common.sql.operators.sql import BaseSQLOperator
    from airflow.sdk import DAG

    from include.sparkify.loads import TABLES, AuditWriteOperator, LoadMode, TableLoadOperator, load_statements
    from include.sparkify.publish import PublishOperator

    for window in (HOUR, FULL):
        final_project = load_dag("final_project")()
        for task in final_project.tasks:
            if isinstance(task, BaseSQLOperator):
                source = "loads" if isinstance(task, AuditWriteOperator | PublishOperator) else "quality"
                run_sql_task(collector, task, window, source)
        # every load mode's statements of a direct load (the analytics rebuild's operator), in a
        # DAG with the same Jinja environment
        with DAG(
            "redshift_contract_modes",
            schedule=None,
            template_searchpath=final_project.template_searchpath,
            user_defined_macros=final_project.user_defined_macros,
        ):
            others = [
                TableLoadOperator(
                    task_id=f"load_{table}_{mode.value}", table=table, mode=mode, sql=load_statements(table, mode)
                )
                for table in TABLES
                for mode in LoadMode
            ]
        for task in others:
            run_sql_task(collector, task, window, "loads")
        for rollup in ("sparkify_analytics", "sparkify_monthly_listening"):
            for task in load_dag(rollup)().tasks:
                if isinstance(task, BaseSQLOperator):
                    run_sql_task(collector, task, window, "analytics")
        for task in load_dag("warehouse_checks")().tasks:
            if isinstance(task, BaseSQLOperator):
                run_sql_task(collector, task, window, "quality")
    # an hourly run whose staged catalog is the one published: songs and artists ask, write nothing
    for task_id in ("Load_song_dim_table", "Load_artist_dim_table"):
        state = {"catalog_state": (("f" * 64, "f" * 64, "scheduled__x"),)}
        fake = run_sql_task(collector, load_dag("final_project")().get_task(task_id), HOUR, "loads", **state)
        assert [s.shape for s in fake.sent] == ["catalog state"], task_id


def collect_migrations(collector: Collector) -> None:
    migrate = load_dag("create_tables")().get_task("Create_tables").python_callable
    fresh = collector.use("migrations")  # an empty warehouse: every migration applied
    result = migrate(run_id=RUN_ID)
    assert result["applied"] == [m.name for m in migrations.discover()] and fresh.closed
    collector.current = fresh  # run again on it: nothing pending
    assert migrate(run_id=RUN_ID)["applied"] == []
    collector.use("migrations", probes_hold=True)  # a warehouse of a release before migrations: adopted
    assert migrate(run_id=RUN_ID)["baselined"] == [m.name for m in migrations.discover()]


def static_statements(directory: str, source: str) -> list[Sent]:
    """The statements of include/sql/<directory>/*.sql, as the migrations runner splits them."""
    return [
        Sent(statement, None, "format", source, f"{directory}/{path.name}")
        for path in sorted((config.SQL_DIR / directory).glob("*.sql"))
        for statement in migrations.split_statements(path.read_text())
    ]


@pytest.fixture(scope="module")
def sent() -> list[Sent]:
    from airflow.providers.amazon.aws.hooks.redshift_sql import RedshiftSQLHook

    from include.sparkify.staging import redshift

    collector = Collector()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(f"AIRFLOW_CONN_{config.REDSHIFT_CONN_ID.upper()}", json.dumps(REDSHIFT_CONNECTION))
        mp.setattr(RedshiftSQLHook, "get_conn", lambda self: collector.current)
        mp.setattr(redshift, "ACCOUNTING_WAIT_SECONDS", 0)
        collect_staging(collector, mp)
        collect_loads_quality_analytics(collector)
        collect_migrations(collector)
    statements = collector.sent + static_statements("ddl", "ddl") + static_statements("monitoring", "monitoring")
    print("\nstatements sent, per source:", dict(Counter(s.source for s in statements)))
    return statements


def by_source(sent: list[Sent], source: str) -> list[Sent]:
    return [s for s in sent if s.source == source]


# ====================================================================== the contract
def test_every_source_was_collected(sent):
    counts = Counter(s.source for s in sent)
    assert set(counts) == set(SOURCES) and all(counts.values()), counts
    shapes = {s.shape for s in sent}
    # the reject accounting ran: SYS_LOAD_HISTORY read, refused lines counted and copied
    assert {
        "copy",
        "copy count",
        "load history",
        "refused lines",
        "rejects from the load errors, as parameters",
    } <= shapes
    # every load mode's statements, the checks and their history, the migrations' bookkeeping
    assert {"load empty", "load incoming", "load delete replaced", "load insert incoming"} <= shapes
    assert {"clear drift", "raw records table", "drift keys", "drop raw records", "drift record"} <= shapes
    assert {
        "audit lock",
        "audit delete run rows",
        "audit insert",
        "publish delete replaced",
        "publish insert",
    } <= shapes
    assert {"volumes forget run", "volumes record", "publish span"} <= shapes
    assert {"column checks", "table checks", "relational check", "dq history"} <= shapes
    assert {"applied-if probe", "migration record", "migration add column", "migration refill"} <= shapes
    # the Redshift engine's cursor uses pyformat; RedshiftSQLHook leaves redshift_connector's default
    styles = {(s.source, s.paramstyle) for s in sent if s.params is not None}
    assert styles == {("staging", "pyformat"), ("quality", "format"), ("migrations", "format")}, styles
    # SQLExecuteQueryOperator sends the loads without parameters: the driver converts nothing,
    # so a `%` in load SQL (`ts % 1000`) is sent as written
    assert {(s.paramstyle, s.params) for s in sent if s.source in ("loads", "analytics")} == {("format", None)}


@pytest.mark.parametrize("source", SOURCES)
def test_every_statement_is_redshift_sql(sent, source):
    checked = [(s, problems(s)) for s in by_source(sent, source) if not known_incompatible(s)]
    found = [(s, p) for s, p in checked if p]
    assert not found, "\n\n".join(f"{s.sql}\n  params {s.params!r}\n  -> " + "\n  -> ".join(p) for s, p in found)


def test_every_copy_reads_a_manifest(sent):
    copies = [s for s in sent if s.shape == "copy"]
    assert len(copies) >= 9
    for copy in copies:
        assert copy_problems(copy.sql) == [], copy.sql
        assert re.search(r"FROM 's3://[^']+\.manifest' ", copy.sql), copy.sql


if KNOWN_INCOMPATIBLE:  # defined only while there is one: no permanently skipped placeholder

    @pytest.mark.parametrize(
        "pattern",
        [pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=r)) for p, r in KNOWN_INCOMPATIBLE.items()],
    )
    def test_known_incompatibility(sent, pattern):
        found = {s.sql: problems(s) for s in sent if re.search(pattern, normalise(s.sql))}
        assert found and not any(found.values()), found


# ====================================================================== each check can fail
def one(sql: str, params=None, paramstyle: str = "format", shape: str = "") -> list[str]:
    return problems(Sent(sql, params, paramstyle, "test", shape))


def test_the_checks_pass_plain_redshift():
    assert (
        one("SELECT CAST(%(a)s AS VARCHAR(64)) AS a, b::INT FROM t WHERE c = %(c)s", {"a": 1, "c": 2}, "pyformat") == []
    )
    assert one("INSERT INTO t (a, b) VALUES (%s, %s)", ("x", "y")) == []
    assert one('LOCK TABLE "songs"') == [] and one("LOCK staging_manifest, staging_rejects") == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO NOTHING", "ON CONFLICT"),
        ("SELECT DISTINCT ON (a) a, b FROM t", "DISTINCT ON"),
        ("WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x", "MATERIALIZED"),
        ("SELECT CAST(a AS JSONB) FROM t", "jsonb"),
        ("SELECT STRING_AGG(a, ',') FROM t", "string_agg"),
        ("DELETE FROM t RETURNING a", "RETURNING"),
        ("TRUNCATE t", "TRUNCATE"),
        ("SELECT 't'::regclass", "regclass"),
        ("SELECT PG_INPUT_IS_VALID(a, 'int') FROM t", "pg_input_is_valid"),
        ("SELECT LOCALTIMESTAMP", "LOCALTIMESTAMP"),
    ],
)
def test_a_postgresql_only_construct_is_caught(sql, expected):
    assert any(expected in p for p in one(sql)), one(sql)
    assert postgres_only(f"SELECT '{sql.replace(chr(39), chr(39) * 2)}' AS quoted") == []  # not inside a literal


def test_an_unparseable_or_opaque_statement_is_caught():
    assert any("cannot parse" in p for p in one("SELECT FROM WHERE ("))
    assert any("opaque command" in p for p in one("VACUUM staging_events TO 75 PERCENT"))
    assert any("statements in one execute" in p for p in one("SELECT 1; SELECT 2"))


def test_placeholders_that_do_not_match_the_parameters_are_caught():
    assert any("has no value" in p for p in one("DELETE FROM t WHERE a = %(a)s", {"b": 1}, "pyformat"))
    assert any("not in the statement" in p for p in one("DELETE FROM t WHERE a = %(a)s", {"a": 1, "b": 2}, "pyformat"))
    assert any("2 value(s)" in p for p in one("DELETE FROM t WHERE a = %s", (1, 2)))
    assert any("refuses it" in p for p in one("DELETE FROM t WHERE a = %(a)s", {"a": 1}))  # format paramstyle
    assert any("without parameters" in p for p in one("DELETE FROM t WHERE a = %(a)s"))
    assert one("DELETE FROM t WHERE a = %(a)s", {"a": 1, "table": "t", "run_id": "r"}, "pyformat") == []
    assert any("refuses it" in p for p in one("SELECT a % 1000 FROM t WHERE b = %s", (1,)))  # % needs %%
    assert one("SELECT a % 1000 FROM t") == []  # without parameters nothing is converted


def test_an_uncast_parameter_in_a_select_list_is_caught():
    bare = one("INSERT INTO t SELECT %(a)s, CAST(%(b)s AS INT) FROM u", {"a": 1, "b": 2}, "pyformat")
    assert bare == ["bound parameter %(a)s in a SELECT list without CAST (sent as type unknown)"]
    nested = one("SELECT x FROM (SELECT 'k' || %(a)s AS x FROM u) AS s", {"a": 1}, "pyformat")
    assert len(nested) == 1 and "without CAST" in nested[0]
    assert one("SELECT a FROM u WHERE b = %(a)s", {"a": 1}, "pyformat") == []  # typed by the comparison


def test_a_copy_without_manifest_or_with_unknown_options_is_caught():
    good = "COPY t FROM 's3://b/k.manifest' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS JSON 'auto' MANIFEST"
    assert one(good) == []
    assert any("without MANIFEST" in p for p in one(good.removesuffix(" MANIFEST")))
    assert any("does not know" in p for p in one(good + " ENCODING UTF8X"))
    assert any("authorization" in p for p in one(good.replace("IAM_ROLE 'arn:aws:iam::1:role/r' ", "")))


def test_a_reserved_word_as_an_identifier_is_caught():
    assert one('SELECT "open" FROM t') == []
    assert any("reserved word" in p for p in one("SELECT a AS tag FROM t"))


def test_the_fake_refuses_a_statement_it_does_not_know():
    with pytest.raises(UnrecognisedStatement, match="does not know this statement"):
        FakeRedshift().cursor().execute("SELECT * FROM pg_catalog.pg_class")


def test_the_checks_catch_a_change_to_the_projects_own_statements(sent):
    """Each check, on statements the project really sends, edited the way a regression would."""

    def first(shape: str) -> Sent:
        return next(s for s in sent if s.shape == shape)

    def edited(shape: str, old: str, new: str) -> list[str]:
        original = first(shape)
        assert old in original.sql and problems(original) == [], original.sql
        return problems(replace(original, sql=original.sql.replace(old, new, 1)))

    assert any("without CAST" in p for p in edited("keep incoming rows", "CAST(%(key)s AS VARCHAR(1024))", "%(key)s"))
    assert any(
        "without CAST" in p
        for p in edited("rejects from the load errors, as parameters", "CAST(%(run_id)s AS VARCHAR(256))", "%(run_id)s")
    )
    assert any("without MANIFEST" in p for p in edited("copy", " MANIFEST ", " "))
    assert any("TRUNCATE" in p for p in edited("load empty", "DELETE FROM", "TRUNCATE"))
    upsert = first("load insert incoming")
    assert any("ON CONFLICT" in p for p in problems(replace(upsert, sql=upsert.sql + " ON CONFLICT DO NOTHING")))
    assert any("has no value" in p for p in edited("clear rejects", "%(run_id)s", "%(run)s"))
    assert any("has no value" in p or "value(s)" in p for p in edited("migration record", "%s)", "%s, %s)"))
