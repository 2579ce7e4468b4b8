"""The Sparkify system test: the real pipeline against real AWS (Redshift Serverless and S3),
the way Airflow's providers run their system tests. ``make system-test``, or
``.venv/bin/python -m dev.system_test`` from the repository root.

!!! SPARKIFY_SYSTEM_REDSHIFT_DATABASE MUST BE A SCRATCH DATABASE. Before each scenario and at !!!
!!! the end the test DROPS every Sparkify table there (staging_*, songplays, users, songs,     !!!
!!! artists, time, dq_history, daily_listening, schema_migrations, ...) with CASCADE. Never   !!!
!!! point it at the production database.                                                      !!!

Environment. Without every required variable it prints which are missing and why it skipped,
and exits 0, so CI never needs AWS.

Required:

* ``SPARKIFY_SYSTEM_REDSHIFT_HOST``: the Redshift Serverless workgroup endpoint
  (``<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com``), reachable from here.
* ``SPARKIFY_SYSTEM_REDSHIFT_DATABASE``: a SCRATCH database (see above).
* ``SPARKIFY_SYSTEM_REDSHIFT_USER``, ``SPARKIFY_SYSTEM_REDSHIFT_PASSWORD``: a user that may
  create and drop tables in that database's ``public`` schema.
* ``SPARKIFY_SYSTEM_BUCKET``: a scratch bucket, or one the test may write under
  ``SPARKIFY_SYSTEM_PREFIX``: it uploads a small data set under a new unique prefix
  ``<SPARKIFY_SYSTEM_PREFIX>/<UTC timestamp>-<random>/`` and deletes that prefix at the end.
* ``SPARKIFY_SYSTEM_IAM_ROLE``: the ARN of the role Redshift COPY assumes (becomes
  ``SPARKIFY_REDSHIFT_IAM_ROLE``). It must be associated with the workgroup's namespace and
  may read ``s3://<bucket>/<SPARKIFY_SYSTEM_PREFIX>/*`` (data and COPY manifests).
* ``SPARKIFY_SYSTEM_REGION``: the bucket's region (becomes ``SPARKIFY_S3_REGION`` and the
  ``aws_credentials`` connection's ``region_name``).

Optional:

* ``SPARKIFY_SYSTEM_REDSHIFT_PORT``: default 5439.
* ``SPARKIFY_SYSTEM_PREFIX``: default ``sparkify-system-test``.
* ``SPARKIFY_SYSTEM_KEEP=1``: keep the uploaded objects, the COPY manifests and the tables.
* ``SPARKIFY_SYSTEM_TIMEOUT_MINUTES``: per scenario, default 60.

AWS credentials come from the standard boto3 chain (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, SSO, an instance role ...): this process
uses them to upload and clean up, the pipeline's ``aws_credentials`` connection (no keys in
it) to list the objects and write the COPY manifests. That identity needs s3:ListBucket,
GetObject, PutObject and DeleteObject under the prefix.

What it does. It generates a small data set (``dev.datagen``: 2 days, about 360 events, 50
songs) and adds, to the day file of the busiest hour, three bad lines (malformed JSON, a
NextSong without userId, a location longer than its column), and beside that day file a
``_SUCCESS`` and a ``...-events.json.1`` object holding valid events of their own, which a
COPY from a bare prefix would load. It writes the same logs partitioned by hour
(``dev.partition``, with the same two extra objects in the busiest hour's partition) and
uploads it all. Then two scenarios, each in a subprocess (the project's config is read at
import) with its own ``SPARKIFY_*`` settings and a fresh SQLite Airflow metadata database:
``days`` (``SPARKIFY_LOG_KEY_TEMPLATE`` = the day files) and ``hours`` (``.../%Y/%m/%d/%H/``).
Each drops the Sparkify tables, runs ``create_tables``, the ``final_project`` full load (no
logical date) and the hourly run of the busiest hour with ``dag.test()``, each of which
must succeed (with ``SPARKIFY_MAX_REJECT_FRACTION=0.5``: three bad lines are a large share
of an hour's lines; and one retry of a failed task, after 15 s).

What it checks, against figures computed here from the JSON files it wrote
(``tests/expected.py``, with the bad lines parsed out independently): the rows of songplays,
users, songs, artists and time, and the songplay ids; staging_events holds exactly the valid
lines of the ``.json`` objects (nothing from ``_SUCCESS``/``.json.1``, whose events carry
their own session ids, nor from the bad lines), per source object after the hourly run;
staging_songs one row per song; staging_rejects lists each bad line once for the full load,
and again for the hourly run when it reads the bad lines' object (the count, and each bad
line's object key, or for a rule reject the log prefix and its ts; not Redshift's wording);
every COPY manifest lists ``.json`` objects only; and both scenarios give the same star
schema. It prints a report and exits 1 on any mismatch, naming the table, what was expected
and what was found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dev.datagen import EVENT_KEYS, GeneratorSpec, generate
from dev.partition import partition_logs
from tests import expected as ex

REPO = Path(__file__).resolve().parents[1]

REQUIRED = {
    "SPARKIFY_SYSTEM_REDSHIFT_HOST": "the Redshift Serverless workgroup endpoint to load into",
    "SPARKIFY_SYSTEM_REDSHIFT_DATABASE": "a SCRATCH database: the test drops and creates the Sparkify tables there",
    "SPARKIFY_SYSTEM_REDSHIFT_USER": "the Redshift user the pipeline and the checks log in as",
    "SPARKIFY_SYSTEM_REDSHIFT_PASSWORD": "that user's password",
    "SPARKIFY_SYSTEM_BUCKET": "a bucket the test may write under a unique prefix (deleted at the end)",
    "SPARKIFY_SYSTEM_IAM_ROLE": "the IAM role ARN Redshift COPY assumes to read the bucket",
    "SPARKIFY_SYSTEM_REGION": "the bucket's AWS region",
}
DEFAULT_PORT = 5439
DEFAULT_PREFIX = "sparkify-system-test"
DEFAULT_TIMEOUT_MINUTES = 60.0
# The longest key below the run prefix, and how much of a file's URI Redshift keeps with a
# refused line (SYS_LOAD_ERROR_DETAIL.file_name is character(256)).
LONGEST_KEY = "days/log_data/2018/11/2018-11-02-events.json"
MAX_URI = 256

# The data set: small, so a run costs minutes; 2 days so a full load reads several objects.
SPEC = GeneratorSpec(events=400, songs=50, users=20, days=2, seed=7)
# The two layouts of the same logs (SPARKIFY_LOG_KEY_TEMPLATE, below the scenario's folder).
SCENARIOS = {
    "days": "log_data/%Y/%m/%Y-%m-%d-events.json",
    "hours": "log_data/%Y/%m/%d/%H/",
}
# An hourly run also reads the partition after its hour (SPARKIFY_LATE_MINUTES, default 60).
LATE_HOURS = 1
# Session ids the generator never uses: the events of _SUCCESS / .json.1, and the bad lines.
DECOY_SESSION = 1_000_000
BAD_SESSION = 2_000_000
# The rejects fraction the runs tolerate: 3 bad lines are a large share of an hour's lines here.
MAX_REJECT_FRACTION = "0.5"
# staging_events' text columns and their sizes in bytes (include/sql/migrations/0001_initial.sql),
# keyed by the JSON key log_json_path.json maps to them.
COLUMN_BYTES = {
    "artist": 512,
    "auth": 32,
    "firstName": 256,
    "gender": 16,
    "lastName": 256,
    "level": 16,
    "location": 512,
    "method": 16,
    "page": 64,
    "song": 512,
    "userAgent": 1024,
    "userId": 64,
}
STAR = ("songplays", "users", "songs", "artists", "time")
NEXTSONG_WITHOUT_USER = "NextSong event without a userId"  # the pipeline's rule reason (staging/sources.py)


def say(message: str = "") -> None:
    print(message, flush=True)


# ---------------------------------------------------------------------------------- settings
def missing_settings(env: Mapping[str, str]) -> list[str]:
    """The required variables that are unset or empty, in the documented order."""
    return [name for name in REQUIRED if not env.get(name, "").strip()]


def skip_message(missing: list[str]) -> str:
    width = max(len(name) for name in missing)
    lines = [
        "SKIPPED: the Sparkify system test runs against real AWS (Redshift Serverless and S3) and "
        f"{len(missing)} of its {len(REQUIRED)} required environment variables are not set:",
        *(f"  {name.ljust(width)}  {REQUIRED[name]}" for name in missing),
        "Set them to run it (see the docstring of dev/system_test.py); AWS credentials come from the "
        "standard boto3 chain. Without them it exits 0, so CI never needs AWS.",
    ]
    return "\n".join(lines)


class SettingsError(ValueError):
    """A variable is set to something the test cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str
    database: str
    user: str
    password: str = field(repr=False)
    bucket: str = ""
    iam_role: str = ""
    region: str = ""
    port: int = DEFAULT_PORT
    prefix: str = DEFAULT_PREFIX
    keep: bool = False
    timeout_minutes: float = DEFAULT_TIMEOUT_MINUTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        value = {name: env.get(name, "").strip() for name in REQUIRED}
        try:
            port = int(env.get("SPARKIFY_SYSTEM_REDSHIFT_PORT", "").strip() or DEFAULT_PORT)
            timeout = float(env.get("SPARKIFY_SYSTEM_TIMEOUT_MINUTES", "").strip() or DEFAULT_TIMEOUT_MINUTES)
        except ValueError as exc:
            raise SettingsError(f"SPARKIFY_SYSTEM_REDSHIFT_PORT / SPARKIFY_SYSTEM_TIMEOUT_MINUTES: {exc}") from None
        prefix = env.get("SPARKIFY_SYSTEM_PREFIX", "").strip().strip("/") or DEFAULT_PREFIX
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", prefix):
            raise SettingsError(
                f"SPARKIFY_SYSTEM_PREFIX {prefix!r}: use letters, digits and . _ / - only "
                "(it becomes part of a strftime template)"
            )
        longest = len(f"s3://{value['SPARKIFY_SYSTEM_BUCKET']}/{new_run_prefix(prefix)}{LONGEST_KEY}")
        if longest > MAX_URI:
            raise SettingsError(
                f"SPARKIFY_SYSTEM_BUCKET and SPARKIFY_SYSTEM_PREFIX make object URIs of {longest} characters: "
                f"Redshift lists a refused line's file in {MAX_URI} characters (SYS_LOAD_ERROR_DETAIL.file_name). "
                "Use a shorter prefix."
            )
        return cls(
            host=value["SPARKIFY_SYSTEM_REDSHIFT_HOST"],
            database=value["SPARKIFY_SYSTEM_REDSHIFT_DATABASE"],
            user=value["SPARKIFY_SYSTEM_REDSHIFT_USER"],
            password=env.get("SPARKIFY_SYSTEM_REDSHIFT_PASSWORD", ""),
            bucket=value["SPARKIFY_SYSTEM_BUCKET"],
            iam_role=value["SPARKIFY_SYSTEM_IAM_ROLE"],
            region=value["SPARKIFY_SYSTEM_REGION"],
            port=port,
            prefix=prefix,
            keep=env.get("SPARKIFY_SYSTEM_KEEP", "").strip().lower() in ("1", "true", "yes"),
            timeout_minutes=timeout,
        )


def new_run_prefix(base: str, now: datetime | None = None) -> str:
    """A prefix no other run uses: ``<base>/<UTC timestamp>-<random>/``."""
    now = now or datetime.now(UTC)
    return f"{base.strip('/')}/{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}/"


# ---------------------------------------------------------------------------------- data set
@dataclass(frozen=True)
class BadLine:
    kind: str
    text: bytes
    ts: int | None  # None: no readable ts (dev.partition puts it in its day's first hour)
    refused_by_copy: bool  # COPY refuses it (True), or stages it and a staging rule moves it (False)


@dataclass(frozen=True)
class DataSet:
    root: Path  # the tree uploaded under the run prefix: song_data/, log_json_path.json, days/, hours/
    busy_hour: datetime  # naive UTC (as tests/expected.py): the hour with the most plays
    bad_lines: tuple[BadLine, ...]
    decoys: dict[str, tuple[str, ...]]  # scenario -> keys (relative to root) of objects no load may read


def hour_of(ts_ms: int) -> datetime:
    return ex.start_time(ts_ms).replace(minute=0, second=0, microsecond=0)


def compact(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def make_bad_lines(event: dict) -> tuple[BadLine, ...]:
    """Three bad lines built from a valid NextSong event, each with a session id of its own:
    had one been loaded, it would show as an extra row."""
    malformed = compact({**event, "sessionId": BAD_SESSION, "itemInSession": 0}).replace(
        b',"firstName"', b' "firstName"', 1
    )
    no_user = {k: v for k, v in event.items() if k != "userId"}
    too_long = {**event, "sessionId": BAD_SESSION + 2, "itemInSession": 0, "location": "L" * 600}
    return (
        BadLine("malformed JSON", malformed, None, refused_by_copy=True),
        BadLine(
            "NextSong without userId",
            compact({**no_user, "sessionId": BAD_SESSION + 1, "itemInSession": 0}),
            event["ts"],
            refused_by_copy=False,
        ),
        BadLine(
            f"location of 600 bytes (column of {COLUMN_BYTES['location']})",
            compact(too_long),
            event["ts"],
            refused_by_copy=True,
        ),
    )


def insert_after(path: Path, event: dict, lines: list[bytes]) -> None:
    """Insert ``lines`` after the line of ``event`` (kept in ts order), no final newline."""
    existing = path.read_bytes().split(b"\n")

    def identity(e: dict) -> tuple:
        return e["sessionId"], e["itemInSession"], e["ts"]

    at = next(i for i, line in enumerate(existing) if line.strip() and identity(json.loads(line)) == identity(event))
    path.write_bytes(b"\n".join([*existing[: at + 1], *lines, *existing[at + 1 :]]))


def write_decoys(directory: Path, json_name: str, events: list[dict]) -> tuple[Path, Path]:
    """``_SUCCESS`` (one event) and ``<json_name>.1`` (the rest) in ``directory``: valid
    events with session ids of their own, which no load may read."""
    decoys = [{**e, "sessionId": DECOY_SESSION + i} for i, e in enumerate(events)]
    success = directory / "_SUCCESS"
    backup = directory / f"{json_name}.1"
    success.write_bytes(compact(decoys[0]))
    backup.write_bytes(b"\n".join(compact(e) for e in decoys[1:]))
    return success, backup


def build_dataset(root: Path, spec: GeneratorSpec = SPEC) -> DataSet:
    """Generate the data set under ``root``/upload (both layouts), with the bad lines and decoys."""
    generated, tree = root / "generated", root / "upload"
    generate(generated, spec)
    tree.mkdir(parents=True)
    shutil.copytree(generated / "song_data", tree / "song_data")
    shutil.copy2(generated / "log_json_path.json", tree / "log_json_path.json")
    shutil.copytree(generated / "log_data", tree / "days" / "log_data")
    events = ex.read_events(generated)
    shutil.rmtree(generated)

    per_hour = ex.nextsong_per_hour(events)
    busy = max(per_hour, key=lambda h: (per_hour[h], h))
    in_busy = [e for e in events if hour_of(e["ts"]) == busy and e["page"] == "NextSong" and e["userId"]]
    bad = make_bad_lines(in_busy[0])
    day_file = tree / "days" / busy.strftime(SCENARIOS["days"])
    insert_after(day_file, in_busy[0], [b.text for b in bad])
    decoys = {"days": write_decoys(day_file.parent, day_file.name, in_busy[:4])}

    partition_logs(tree / "days" / "log_data", tree / "hours", SCENARIOS["hours"])
    hour_dir = tree / "hours" / busy.strftime(SCENARIOS["hours"])
    decoys["hours"] = write_decoys(hour_dir, "events.json", in_busy[:4])
    return DataSet(
        root=tree,
        busy_hour=busy,
        bad_lines=bad,
        decoys={s: tuple(p.relative_to(tree).as_posix() for p in paths) for s, paths in decoys.items()},
    )


# ---------------------------------------------------------------------------------- expected
def parse_event(line: bytes) -> dict | None:
    """The event of a log line as the warehouse must stage it, or None for a line that must
    be rejected. Written from the rules as documented (README, staging/sources.py RULES),
    not from the pipeline's code: not JSON, no ts, a userId that is not a user number, a
    NextSong without userId / sessionId / itemInSession, or a text longer than its column."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    event = {key: doc.get(key) for key in EVENT_KEYS}  # a key missing from the JSON stages as NULL
    user = event["userId"]
    if event["ts"] is None:
        return None
    if user not in (None, "") and not (isinstance(user, str) and user.isascii() and user.isdigit() and len(user) <= 9):
        return None
    if event["page"] == "NextSong" and (not user or event["sessionId"] is None or event["itemInSession"] is None):
        return None
    for key, size in COLUMN_BYTES.items():
        if isinstance(event[key], str) and len(event[key].encode()) > size:
            return None
    return event


def log_lines(path: Path) -> list[bytes]:
    """The lines of a log object, numbered from 1 by their position (blank ones too)."""
    return path.read_bytes().split(b"\n")


def read_valid(root: Path, scenario: str) -> tuple[list[dict], dict[str, int]]:
    """The valid events of the ``.json`` log objects of a scenario (the objects a load must
    read: not ``_SUCCESS`` nor ``.json.1``), and how many each object holds (key relative to root)."""
    events: list[dict] = []
    per_object: dict[str, int] = {}
    for path in sorted((root / scenario / "log_data").rglob("*.json")):
        valid = [e for e in (parse_event(line) for line in log_lines(path) if line.strip()) if e is not None]
        per_object[path.relative_to(root).as_posix()] = len(valid)
        events += valid
    return events, per_object


def locate(root: Path, scenario: str, bad: BadLine) -> tuple[str, int]:
    """The object (key relative to root) and line number where a bad line was written."""
    for path in sorted((root / scenario / "log_data").rglob("*.json")):
        for number, line in enumerate(log_lines(path), start=1):
            if line == bad.text:
                return path.relative_to(root).as_posix(), number
    raise LookupError(f"{bad.kind}: not found in any .json object of {scenario}")


def hourly_objects(root: Path, scenario: str, hour: datetime) -> list[str]:
    """The log objects (keys relative to root) the run of ``[hour, hour+1h)`` reads: those of
    its hour and of the next (late events), by the scenario's template; a template ending in
    ``/`` is every ``.json`` object under the rendered prefix."""
    keys: list[str] = []
    for h in (hour + timedelta(hours=n) for n in range(LATE_HOURS + 1)):
        rendered = f"{scenario}/{h.strftime(SCENARIOS[scenario])}"
        if rendered.endswith("/"):
            found = sorted(p.relative_to(root).as_posix() for p in (root / rendered).rglob("*.json"))
        else:
            found = [rendered] if (root / rendered).is_file() else []
        keys += [k for k in found if k not in keys]
    return keys


@dataclass(frozen=True)
class Expected:
    scenario: str
    run_prefix: str
    log_prefix: str  # the S3 prefix of the scenario's logs (ends with /): a full load's source_key
    tables: dict[str, int]
    staging_events: int
    staging_songs: int
    # staging_events rows per source_key after the hourly run: those of the objects it read
    # under their keys, the rest under the log prefix (Redshift's full load COPYs the prefix:
    # COPY does not say which object a row came from) ...
    staging_by_source: dict[str, int]
    # ... or every row under its object's key (the PostgreSQL stand-in's full load)
    staging_by_object: dict[str, int]
    songplay_ids: frozenset[str]
    rejects: dict[str, tuple[tuple[BadLine, str, int], ...]]  # run -> (bad line, S3 key, line number)

    def short(self, value):
        """``value`` (a key, URI or reason; or a dict keyed by them) with the run prefix left
        out, for the report."""
        if isinstance(value, dict):
            return {self.short(k): v for k, v in value.items()}
        text = str(value)
        at = text.find(self.run_prefix)
        return text if at < 0 else text[:at] + "…/" + text[at + len(self.run_prefix) :]


def expected_for(dataset: DataSet, scenario: str, run_prefix: str) -> Expected:
    """What the warehouse must hold after the scenario's full load and hourly run."""
    root = dataset.root
    events, per_object = read_valid(root, scenario)
    songs = ex.read_songs(root)
    plays = ex.songplays(events, songs)
    log_prefix = f"{run_prefix}{scenario}/log_data/"
    hourly = hourly_objects(root, scenario, dataset.busy_hour)
    by_source = {f"{run_prefix}{key}": per_object[key] for key in hourly if per_object.get(key)}
    rest = len(events) - sum(by_source.values())
    if rest:
        by_source[log_prefix] = rest
    located = [(bad, *locate(root, scenario, bad)) for bad in dataset.bad_lines]
    return Expected(
        scenario=scenario,
        run_prefix=run_prefix,
        log_prefix=log_prefix,
        tables={
            "songplays": len(plays),
            "users": len(ex.users(events)),
            "songs": len(ex.songs_table(songs)),
            "artists": len(ex.artists_table(songs)),
            "time": len(ex.time_table(plays)),
        },
        staging_events=len(events),
        staging_songs=len(songs),
        staging_by_source=by_source,
        staging_by_object={f"{run_prefix}{key}": n for key, n in per_object.items() if n},
        songplay_ids=frozenset(plays),
        rejects={
            "full_load": tuple((bad, f"{run_prefix}{key}", line) for bad, key, line in located),
            "hourly": tuple((bad, f"{run_prefix}{key}", line) for bad, key, line in located if key in hourly),
        },
    )


# ---------------------------------------------------------------------------------- found and compared
@dataclass(frozen=True)
class Reject:
    run_id: str
    staging_table: str
    source_key: str
    line_number: int
    reason: str
    raw_text: str | None


@dataclass(frozen=True)
class Found:
    counts: dict[str, int]  # STAR + staging_events + staging_songs
    songplay_ids: frozenset[str]
    staging_by_source: dict[str, int]
    decoy_rows: int  # staging_events rows from _SUCCESS / .json.1
    bad_rows: int  # staging_events rows from the bad lines
    rejects: tuple[Reject, ...]
    manifests: dict[str, list[str]]  # manifest key -> the object URLs it lists


@dataclass(frozen=True)
class Check:
    scenario: str
    what: str
    expected: object
    found: object
    ok: bool

    @classmethod
    def equal(cls, scenario: str, what: str, expected: object, found: object) -> Check:
        return cls(scenario, what, expected, found, expected == found)


def match_rejects(
    wanted: tuple[tuple[BadLine, str, int], ...], rows: list[Reject], log_prefix: str
) -> list[tuple[BadLine, str, Reject | None]]:
    """Pair each expected bad line with one reject row. A line COPY refused is found by its
    object key in source_key (Redshift gives the object's URI, PostgreSQL its key); a line a
    staging rule moved, by the log prefix in source_key (Redshift gives the COPY's prefix)
    and its ts in raw_text. The wording of reasons differs between engines and is not
    compared. Rows with the expected line number are taken first."""
    left = list(rows)
    hits: dict[int, Reject | None] = {}
    order = sorted(range(len(wanted)), key=lambda i: wanted[i][0].refused_by_copy)  # rule rejects first
    for i in order:
        bad, key, line = wanted[i]

        def fits(row: Reject, bad=bad, key=key) -> bool:
            if bad.refused_by_copy:
                return key in row.source_key
            return log_prefix in row.source_key and str(bad.ts) in (row.raw_text or "")

        candidates = [r for r in left if fits(r)]
        hits[i] = next((r for r in candidates if r.line_number == line), candidates[0] if candidates else None)
        if hits[i] is not None:
            left.remove(hits[i])
    return [(bad, key, hits[i]) for i, (bad, key, _) in enumerate(wanted)]


def compare(expected: Expected, found: Found, runs: Mapping[str, str]) -> list[Check]:
    """Every check of one scenario: ``runs`` maps full_load / hourly to their run ids."""
    s = expected.scenario
    checks = [Check.equal(s, f"{table} rows", expected.tables[table], found.counts.get(table)) for table in STAR]
    missing = len(expected.songplay_ids - found.songplay_ids)
    extra = len(found.songplay_ids - expected.songplay_ids)
    checks.append(
        Check(
            s, "songplay ids", "the expected set", f"{missing} missing, {extra} unexpected", not missing and not extra
        )
    )
    checks.append(Check.equal(s, "staging_events rows", expected.staging_events, found.counts.get("staging_events")))
    checks.append(Check.equal(s, "staging_songs rows", expected.staging_songs, found.counts.get("staging_songs")))
    short = expected.short
    if found.staging_by_source == expected.staging_by_object != expected.staging_by_source:
        shown = f"every row under its own object's key ({len(found.staging_by_source)} objects)"
    else:
        shown = short(dict(sorted(found.staging_by_source.items())))
    checks.append(
        Check(
            s,
            "staging_events rows per source_key after the hourly run",
            short(expected.staging_by_source),
            shown,
            found.staging_by_source in (expected.staging_by_source, expected.staging_by_object),
        )
    )
    checks.append(Check.equal(s, "staging_events rows from _SUCCESS / .json.1", 0, found.decoy_rows))
    checks.append(Check.equal(s, "staging_events rows from the bad lines", 0, found.bad_rows))

    events_manifests = [k for k in found.manifests if "/staging_events/" in k]
    songs_manifests = [k for k in found.manifests if "/staging_songs/" in k]
    written = (len(events_manifests), len(songs_manifests))
    checks.append(Check(s, "COPY manifests (staging_events, staging_songs)", "at least 1 each", written, all(written)))
    not_json = sorted({short(u) for urls in found.manifests.values() for u in urls if not u.endswith(".json")})
    checks.append(Check.equal(s, "COPY manifest entries that are not .json objects", [], not_json))

    for run, label in (("full_load", "full load"), ("hourly", "hourly run")):
        run_id = runs.get(run, "")
        rows = [r for r in found.rejects if r.run_id == run_id and r.staging_table == "staging_events"]
        wanted = expected.rejects[run]
        checks.append(Check.equal(s, f"staging_rejects rows of the {label} (staging_events)", len(wanted), len(rows)))
        for bad, key, hit in match_rejects(wanted, rows, expected.log_prefix):
            where = short(key) if bad.refused_by_copy else f"{short(expected.log_prefix)} (a rule reject, ts {bad.ts})"
            found_text = (
                "missing" if hit is None else f"listed: {short(hit.source_key)} line {hit.line_number}: {hit.reason}"
            )
            checks.append(
                Check(s, f"reject of the {label}: {bad.kind} in {where}", "listed", found_text, hit is not None)
            )
    others = [r for r in found.rejects if r.staging_table != "staging_events" or r.run_id not in runs.values()]
    listed = [(r.staging_table, short(r.source_key), r.reason) for r in others]
    checks.append(Check.equal(s, "other staging_rejects rows (staging_songs, other runs)", [], listed))
    return checks


def compare_scenarios(found: Mapping[str, Found]) -> list[Check]:
    """The star schema is the same whichever layout the logs were in."""
    names = list(found)
    if len(names) < 2:
        return []
    first, *rest = names
    checks = []
    for other in rest:
        for table in STAR:
            a, b = found[first].counts.get(table), found[other].counts.get(table)
            checks.append(Check(f"{first} vs {other}", f"{table} rows", f"{a} ({first})", f"{b} ({other})", a == b))
        same = found[first].songplay_ids == found[other].songplay_ids
        checks.append(
            Check(f"{first} vs {other}", "songplay ids", "identical", "identical" if same else "different", same)
        )
    return checks


def report(checks: list[Check]) -> str:
    lines = []
    scenario = None
    for c in checks:
        if c.scenario != scenario:
            scenario = c.scenario
            lines.append(f"== {scenario} ==")
        mark = "OK      " if c.ok else "MISMATCH"
        lines.append(f"  {mark}  {c.what}: expected {c.expected}, found {c.found}")
    failed = [c for c in checks if not c.ok]
    if failed:
        lines.append(f"RESULT: FAILED, {len(failed)} of {len(checks)} checks:")
        lines += [f"  [{c.scenario}] {c.what}: expected {c.expected}, found {c.found}" for c in failed]
    else:
        lines.append(f"RESULT: PASSED, {len(checks)} checks")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- the environment of a scenario
def airflow_connections(settings: Settings) -> dict[str, str]:
    """The connections and variable the DAGs read, as environment variables."""
    redshift = {
        "conn_type": "redshift",
        "host": settings.host,
        "port": settings.port,
        "schema": settings.database,
        "login": settings.user,
        "password": settings.password,
    }
    aws = {"conn_type": "aws", "extra": {"region_name": settings.region}}  # credentials: the boto3 chain
    return {
        "AIRFLOW_CONN_REDSHIFT": json.dumps(redshift),
        "AIRFLOW_CONN_AWS_CREDENTIALS": json.dumps(aws),
        "AIRFLOW_VAR_S3_BUCKET": settings.bucket,
    }


def manifest_prefix(run_prefix: str, scenario: str) -> str:
    return f"{run_prefix}_sparkify/copy-manifests/{scenario}"


def scenario_env(
    settings: Settings, scenario: str, run_prefix: str, airflow_home: Path, base: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a scenario's subprocesses: ``base`` (PATH, HOME, AWS_*) without any
    AIRFLOW_* or SPARKIFY_* variable of the caller, then Airflow on a SQLite metadata
    database in ``airflow_home``, the connections, and the pipeline's settings pointing at
    the run's prefix."""
    env = {k: v for k, v in base.items() if not k.startswith(("AIRFLOW_", "SPARKIFY_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), base.get("PYTHONPATH", "")])),
            **airflow_connections(settings),
            "SPARKIFY_LOG_PREFIX": f"{run_prefix}{scenario}/log_data",
            "SPARKIFY_SONG_PREFIX": f"{run_prefix}song_data",
            "SPARKIFY_LOG_JSONPATHS_KEY": f"{run_prefix}log_json_path.json",
            "SPARKIFY_LOG_KEY_TEMPLATE": f"{run_prefix}{scenario}/{SCENARIOS[scenario]}",
            "SPARKIFY_MANIFEST_PREFIX": manifest_prefix(run_prefix, scenario),
            "SPARKIFY_REDSHIFT_IAM_ROLE": settings.iam_role,
            "SPARKIFY_S3_REGION": settings.region,
            "SPARKIFY_WAREHOUSE_URI": f"redshift://{settings.host}:{settings.port}/{settings.database}",
            "SPARKIFY_START_DATE": SPEC.start.isoformat(),
            "SPARKIFY_MAX_REJECT_FRACTION": MAX_REJECT_FRACTION,
            # A failing task fails the scenario soon: one retry, after 15 s.
            "SPARKIFY_TASK_RETRIES": "1",
            "SPARKIFY_RETRY_DELAY_SECONDS": "15",
        }
    )
    return env


# ---------------------------------------------------------------------------------- AWS (replaceable for a local rehearsal)
def s3_client(settings: Settings):
    import boto3

    return boto3.client("s3", region_name=settings.region)


def connect_warehouse(settings: Settings):
    import redshift_connector

    conn = redshift_connector.connect(
        host=settings.host,
        port=settings.port,
        database=settings.database,
        user=settings.user,
        password=settings.password,
    )
    conn.autocommit = True
    return conn


def query(conn, sql: str) -> list[tuple]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return [tuple(row) for row in cur.fetchall()] if cur.description else []
    finally:
        cur.close()


def sparkify_tables() -> list[str]:
    """Every table the migrations create, and schema_migrations."""
    names: list[str] = []
    for path in sorted((REPO / "include" / "sql" / "migrations").glob("*.sql")):
        for name in re.findall(
            r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?\"?(\w+)\"?", path.read_text(), re.I | re.M
        ):
            if name.lower() not in names:
                names.append(name.lower())
    return [*names, "schema_migrations"]


def drop_tables(conn) -> None:
    quoted = ", ".join(f'"{table}"' for table in sparkify_tables())
    query(conn, f"DROP TABLE IF EXISTS {quoted} CASCADE")


def upload(s3, bucket: str, run_prefix: str, root: Path) -> int:
    from concurrent.futures import ThreadPoolExecutor

    paths = sorted(p for p in root.rglob("*") if p.is_file())

    def put(path: Path) -> None:
        s3.put_object(Bucket=bucket, Key=run_prefix + path.relative_to(root).as_posix(), Body=path.read_bytes())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, paths))
    return len(paths)


def list_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def delete_prefix(s3, bucket: str, prefix: str) -> int:
    keys = list_keys(s3, bucket, prefix)
    for start in range(0, len(keys), 1000):
        answer = s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]], "Quiet": True}
        )
        if answer.get("Errors"):
            raise RuntimeError(f"could not delete {answer['Errors'][:3]} ...")
    return len(keys)


def gather(conn, s3, bucket: str, manifests_under: str) -> Found:
    counts = {
        t: int(query(conn, f'SELECT COUNT(*) FROM "{t}"')[0][0]) for t in (*STAR, "staging_events", "staging_songs")
    }
    rejects = tuple(
        Reject(str(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), r[5])
        for r in query(
            conn,
            "SELECT run_id, staging_table, source_key, line_number, reason, raw_text FROM staging_rejects "
            "ORDER BY run_id, source_key, line_number",
        )
    )
    manifests = {}
    for key in list_keys(s3, bucket, manifests_under + "/"):
        body = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        manifests[key] = [entry["url"] for entry in body.get("entries", [])]
    return Found(
        counts=counts,
        songplay_ids=frozenset(r[0] for r in query(conn, "SELECT songplay_id FROM songplays")),
        staging_by_source={
            str(r[0]): int(r[1])
            for r in query(conn, "SELECT source_key, COUNT(*) FROM staging_events GROUP BY source_key")
        },
        decoy_rows=int(
            query(
                conn,
                f"SELECT COUNT(*) FROM staging_events WHERE sessionid >= {DECOY_SESSION} AND sessionid < {BAD_SESSION}",
            )[0][0]
        ),
        bad_rows=int(query(conn, f"SELECT COUNT(*) FROM staging_events WHERE sessionid >= {BAD_SESSION}")[0][0]),
        rejects=rejects,
        manifests=manifests,
    )


# ---------------------------------------------------------------------------------- the parent
def run_subprocess(args: list[str], env: dict[str, str], timeout: float) -> int:
    """Run a command of this test in its own process group; on timeout, end that group."""
    proc = subprocess.Popen(args, cwd=REPO, env=env, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        say(f"system-test: {' '.join(args[1:])} did not finish within {timeout / 60:g} min: ended it")
        return -1


def run_scenario_process(settings: Settings, scenario: str, run_prefix: str, busy_hour: datetime, work: Path) -> dict:
    """airflow db migrate, then the scenario's DAG runs, in subprocesses; the runner's result."""
    home = work / f"airflow-{scenario}"
    home.mkdir()
    env = scenario_env(settings, scenario, run_prefix, home, os.environ)
    timeout = settings.timeout_minutes * 60
    say(f"system-test: [{scenario}] airflow db migrate (SQLite in {home})")
    if run_subprocess([sys.executable, "-m", "airflow", "db", "migrate"], env, timeout) != 0:
        return {"ok": False, "error": "airflow db migrate failed (its output is above)", "runs": {}}
    result_file = work / f"result-{scenario}.json"
    logical_date = (busy_hour + timedelta(hours=1)).replace(tzinfo=UTC).isoformat()
    args = [sys.executable, "-m", "dev.system_test", "--scenario", scenario, "--logical-date", logical_date]
    code = run_subprocess([*args, "--result", str(result_file)], env, timeout)
    if not result_file.exists():
        return {"ok": False, "error": f"the scenario process exited {code} without a result (output above)", "runs": {}}
    result = json.loads(result_file.read_text())
    result["ok"] = result.get("ok", False) and code == 0
    return result


def with_warehouse(settings: Settings, action):
    """``action(conn)`` on a new connection, closed afterwards: a scenario runs for minutes,
    longer than an idle connection may survive between here and the workgroup."""
    conn = connect_warehouse(settings)
    try:
        return action(conn)
    finally:
        conn.close()


def run_system_test(settings: Settings) -> int:
    run_prefix = new_run_prefix(settings.prefix)
    say("=" * 100)
    say(
        f"Sparkify system test: s3://{settings.bucket}/{run_prefix} -> {settings.host}:{settings.port}/{settings.database}"
    )
    say(
        f"WARNING: database {settings.database!r} is treated as a SCRATCH database: every Sparkify table there "
        f"({', '.join(sparkify_tables())}) is DROPPED before each scenario"
        + (" (and kept at the end: SPARKIFY_SYSTEM_KEEP=1)." if settings.keep else " and at the end.")
    )
    say("=" * 100)
    checks: list[Check] = []
    found: dict[str, Found] = {}
    s3 = None
    touched = False  # the warehouse: dropped at the end only if a scenario started
    with tempfile.TemporaryDirectory(prefix="sparkify-system-test-") as tmp:
        work = Path(tmp)
        try:
            dataset = build_dataset(work)
            say(
                f"system-test: data set built: busiest hour {dataset.busy_hour:%Y-%m-%d %H:00}, "
                f"{len(dataset.bad_lines)} bad lines, decoys {dataset.decoys}"
            )
            s3 = s3_client(settings)
            uploaded = upload(s3, settings.bucket, run_prefix, dataset.root)
            say(f"system-test: uploaded {uploaded} objects to s3://{settings.bucket}/{run_prefix}")
            for scenario in SCENARIOS:
                expected = expected_for(dataset, scenario, run_prefix)
                say(f"system-test: [{scenario}] dropping the Sparkify tables of {settings.database!r}")
                touched = True
                with_warehouse(settings, drop_tables)
                result = run_scenario_process(settings, scenario, run_prefix, dataset.busy_hour, work)
                runs = {name: run.get("run_id", "") for name, run in result.get("runs", {}).items()}
                if not result.get("ok"):
                    checks.append(Check(scenario, "DAG runs succeed", "success", result.get("error") or result, False))
                    continue
                checks.append(Check(scenario, "DAG runs succeed", "success", "success", True))
                manifests_under = manifest_prefix(run_prefix, scenario)
                found[scenario] = with_warehouse(
                    settings, lambda c, m=manifests_under: gather(c, s3, settings.bucket, m)
                )
                scenario_checks = compare(expected, found[scenario], runs)
                checks += scenario_checks
                failed = sum(not c.ok for c in scenario_checks)
                say(f"system-test: [{scenario}] checked: {len(scenario_checks)} checks, {failed} mismatches")
            checks += compare_scenarios(found)
        except Exception as exc:  # noqa: BLE001 - reported as a failed check, after the cleanup
            traceback.print_exc()
            checks.append(Check("setup", "the test runs to its end", "no error", f"{type(exc).__name__}: {exc}", False))
        finally:
            cleanup(settings, s3, run_prefix, touched)
    say("=" * 100)
    say(report(checks))
    return 0 if checks and all(c.ok for c in checks) else 1


def cleanup(settings: Settings, s3, run_prefix: str, touched: bool) -> None:
    """Delete the run's prefix (data and COPY manifests) and, if ``touched``, drop the tables,
    unless SPARKIFY_SYSTEM_KEEP=1. A failure here is reported, not raised: the checks decide."""
    if settings.keep:
        say(f"system-test: kept s3://{settings.bucket}/{run_prefix} and the tables (SPARKIFY_SYSTEM_KEEP=1)")
        return
    if s3 is not None:
        try:
            deleted = delete_prefix(s3, settings.bucket, run_prefix)
            say(f"system-test: deleted {deleted} objects under s3://{settings.bucket}/{run_prefix}")
        except Exception as exc:  # noqa: BLE001
            say(f"system-test: WARNING: could not delete s3://{settings.bucket}/{run_prefix}: {exc}")
    if not touched:
        return
    try:
        with_warehouse(settings, drop_tables)
        say(f"system-test: dropped the Sparkify tables of {settings.database!r}")
    except Exception as exc:  # noqa: BLE001
        say(f"system-test: WARNING: could not drop the Sparkify tables of {settings.database!r}: {exc}")


# ---------------------------------------------------------------------------------- the scenario runner (a subprocess)
def run_scenario(scenario: str, logical_date: datetime, result_path: Path) -> int:
    """create_tables, the full load and one hourly run, with dag.test(), in this process's
    environment (scenario_env). Writes the run ids and states to ``result_path``."""
    result: dict = {"scenario": scenario, "runs": {}, "ok": False, "error": None}
    try:
        result["error"] = _run_dags(scenario, logical_date, result["runs"])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the scenario
        traceback.print_exc()
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["ok"] = result["error"] is None
    result_path.write_text(json.dumps(result, indent=1, default=str))
    return 0 if result["ok"] else 1


def _value(state) -> str:
    return str(getattr(state, "value", state))


def _run_dags(scenario: str, logical_date: datetime, runs: dict) -> str | None:
    """The scenario's three DAG runs in order; None, or why it stopped."""
    from airflow.dag_processing.dagbag import DagBag

    from dev.dagtest import run_dag_test
    from include.sparkify import task_ids as ids

    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        return f"DAG import errors: {bag.import_errors}"
    plan = (
        ("create_tables", ids.CREATE_TABLES_DAG, None),
        ("full_load", ids.FINAL_PROJECT_DAG, None),
        ("hourly", ids.FINAL_PROJECT_DAG, logical_date),
    )
    for name, dag_id, date in plan:
        print(f"system-test: [{scenario}] {dag_id}: {name} (logical date {date})", flush=True)
        dr = run_dag_test(bag.dags[dag_id], date)
        states = {ti.task_id: _value(ti.state) for ti in dr.get_task_instances()}
        interval = (dr.data_interval_start, dr.data_interval_end)
        runs[name] = {
            "dag_id": dag_id,
            "run_id": dr.run_id,
            "state": _value(dr.state),
            "data_interval": [str(d) for d in interval],
            "not_succeeded": {t: s for t, s in states.items() if s not in ("success", "skipped")},
        }
        if runs[name]["state"] != "success":
            return f"{dag_id} run {dr.run_id} ended {runs[name]['state']}: {runs[name]['not_succeeded']}"
        want = (None, None) if date is None else (date - timedelta(hours=1), date)
        if dag_id == ids.FINAL_PROJECT_DAG and interval != want:
            return f"{dag_id} run {dr.run_id}: data interval {runs[name]['data_interval']}, expected {want}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.system_test", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="(internal) run one scenario's DAGs here")
    parser.add_argument("--logical-date", type=datetime.fromisoformat, help="(internal) the hourly run's logical date")
    parser.add_argument("--result", type=Path, help="(internal) where the scenario writes its result")
    args = parser.parse_args(argv)
    if args.scenario:
        if args.logical_date is None or args.result is None:
            parser.error("--scenario needs --logical-date and --result")
        return run_scenario(args.scenario, args.logical_date, args.result)

    missing = missing_settings(os.environ)
    if missing:
        say(skip_message(missing))
        return 0
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        say(f"system-test: {exc}")
        return 2
    return run_system_test(settings)


if __name__ == "__main__":
    sys.exit(main())
