"""What is staged: the two sources, the rules a staged row must keep, one load's request
(``StagingRun``) and its outcome (``StageResult``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from include.sparkify import config
from include.sparkify.staging.layout import LogLayout, Partition
from include.sparkify.window import Window


class StagingError(RuntimeError):
    """A staging load that must fail the task (bad configuration, too many rejects)."""


@dataclass(frozen=True)
class Source:
    table: str
    prefix: str
    jsonpaths_key: str | None  # None: JSON 'auto' (keys match column names)
    skip_unchanged: bool  # skip the load when the objects are the ones staged last time
    keyed: bool = False  # rows carry their source_key: a load replaces only its objects' rows
    layout: LogLayout | None = None  # where an hour's records are; None: the source is read whole

    @property
    def prefix_tag(self) -> str:
        """source_key of rows a Redshift full load COPYs from the whole prefix (COPY does not
        say which object a row came from)."""
        return self.prefix.rstrip("/") + "/"


LOG_LAYOUT = LogLayout(config.LOG_KEY_TEMPLATE, config.LATE_MINUTES)
EVENTS = Source(
    "staging_events",
    LOG_LAYOUT.fixed_prefix.rstrip("/"),
    config.LOG_JSONPATHS_KEY,
    skip_unchanged=False,
    keyed=True,
    layout=LOG_LAYOUT,
)
SONGS = Source("staging_songs", config.SONG_PREFIX, None, skip_unchanged=True)
SOURCES = {s.table: s for s in (EVENTS, SONGS)}

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


def rule_case(table: str, prefix: str = "") -> str:
    """CASE expression giving the first broken rule's reason for a row (columns prefixed), or NULL."""
    whens = " ".join(f"WHEN {cond.replace('{r}', prefix)} THEN '{reason}'" for cond, _, reason in RULES[table])
    return f"(CASE {whens} END)"


@dataclass(frozen=True)
class StagingRun:
    """One staging load: which source, for which window, from which bucket, into which
    warehouse, and how many rejects it may tolerate."""

    source: Source
    window: Window
    run_id: str
    bucket: str
    force: bool = False  # restage even if the objects are unchanged
    redshift_conn_id: str = config.REDSHIFT_CONN_ID
    aws_conn_id: str = config.AWS_CONN_ID
    max_reject_fraction: float = config.MAX_REJECT_FRACTION

    def __post_init__(self) -> None:
        if SOURCES.get(self.source.table) is not self.source:
            raise StagingError(f"unknown staging table {self.source.table!r}")

    @property
    def table(self) -> str:
        return self.source.table

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def partitions(self) -> list[Partition] | None:
        """What the load reads and replaces: None for everything (a full load, or a source
        read whole), else the partitions of the window's hours and of the late minutes after
        them. Rows of other partitions are left alone, so runs of different hours can stage
        side by side (a backfill with max_active_runs > 1)."""
        if self.source.layout is None or self.window.full:
            return None
        return self.source.layout.partitions(self.window)


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
    drift: dict = field(default_factory=dict)  # schema drift of the records read (drift.py's summary)

    def as_dict(self) -> dict:
        return asdict(self)
