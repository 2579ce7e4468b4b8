"""Tests for dev/datagen.py.

Every check reads the written files back with ``json`` (independently of the
generator's own bookkeeping), using small specs so the module runs in seconds.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dev.datagen import GeneratorSpec, generate, main

REAL_DATA = Path(__file__).resolve().parents[2] / "shared/data/sparkify"

SPEC = GeneratorSpec(events=3000, songs=300, users=40, start=date(2018, 11, 1), days=7, seed=7)

EVENT_KEYS = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
]
SONG_KEYS = [
    "artist_id",
    "artist_latitude",
    "artist_location",
    "artist_longitude",
    "artist_name",
    "duration",
    "num_songs",
    "song_id",
    "title",
    "year",
]
USER_FIELDS = ("firstName", "gender", "lastName", "location", "registration", "userAgent")


def _real_style(obj) -> str:
    """How the course files encode one object: compact, ASCII escapes, '\\/'."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class Data:
    """The generated tree, read back."""

    def __init__(self, root: Path, summary: dict):
        self.root = root
        self.summary = summary
        self.files = _files(root)
        self.log_files = {k: v for k, v in self.files.items() if k.startswith("log_data/")}
        self.song_files = {k: v for k, v in self.files.items() if k.startswith("song_data/")}
        self.events: list[dict] = []  # each with "_file" added
        self.log_lines: list[str] = []
        for name, raw in sorted(self.log_files.items()):
            for line in raw.decode("ascii").split("\n"):
                e = json.loads(line)
                self.log_lines.append(line)
                e["_file"] = name
                self.events.append(e)
        self.songs = {name: json.loads(raw) for name, raw in self.song_files.items()}

    def clean(self, e: dict) -> dict:
        return {k: v for k, v in e.items() if k != "_file"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Data:
    root = tmp_path_factory.mktemp("gen")
    summary = generate(root, SPEC)
    return Data(root, summary)


# ----------------------------------------------------------------------------
# determinism, files, layout
# ----------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path, data):
    generate(tmp_path / "again", SPEC)
    again = _files(tmp_path / "again")
    assert sorted(again) == sorted(data.files)
    assert again == data.files


def test_different_seed_gives_different_data(tmp_path, data):
    spec = GeneratorSpec(**{**SPEC.__dict__, "seed": SPEC.seed + 1})
    generate(tmp_path / "other", spec)
    other = _files(tmp_path / "other")
    assert other["log_json_path.json"] == data.files["log_json_path.json"]
    common_logs = set(other) & set(data.log_files)
    assert common_logs, "log file names depend only on start/days"
    assert any(other[k] != data.files[k] for k in common_logs)
    assert {k for k in other if k.startswith("song_data/")} != set(data.song_files)


def test_no_final_newline_anywhere(data):
    assert data.files
    for name, raw in data.files.items():
        assert raw, f"{name} is empty"
        assert not raw.endswith(b"\n"), f"{name} ends with a newline"
        assert b"\r" not in raw


def test_layout(data):
    days = [SPEC.start + timedelta(days=i) for i in range(SPEC.days)]
    expected_logs = {f"log_data/{d:%Y}/{d:%m}/{d:%Y-%m-%d}-events.json" for d in days}
    assert set(data.log_files) == expected_logs
    assert set(data.files) == expected_logs | set(data.song_files) | {"log_json_path.json"}
    assert len(data.song_files) == SPEC.songs
    pattern = re.compile(r"^song_data/([A-Z])/([A-Z])/([A-Z])/(TR[A-Z0-9]{16})\.json$")
    for name in data.song_files:
        m = pattern.match(name)
        assert m, name
        track = m.group(4)
        assert (m.group(1), m.group(2), m.group(3)) == (track[2], track[3], track[4]), name
    assert len({s["song_id"] for s in data.songs.values()}) == SPEC.songs


def test_summary_matches_files(data):
    s = data.summary
    assert s["events"] == len(data.events)
    assert s["next_song_events"] == sum(e["page"] == "NextSong" for e in data.events)
    assert s["songs"] == s["song_files"] == len(data.song_files) == SPEC.songs
    assert s["log_files"] == len(data.log_files) == SPEC.days
    assert s["bytes"] == sum(len(v) for v in data.files.values())
    assert abs(s["events"] - SPEC.events) <= 0.15 * SPEC.events


def test_cli_prints_summary(tmp_path, capsys):
    rc = main(
        [
            str(tmp_path / "cli"),
            "--events",
            "400",
            "--songs",
            "30",
            "--users",
            "10",
            "--days",
            "3",
            "--start",
            "2019-01-30",
            "--seed",
            "3",
        ]
    )
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["song_files"] == 30 and printed["log_files"] == 3
    names = sorted(p.name for p in (tmp_path / "cli").rglob("*-events.json"))
    assert names == ["2019-01-30-events.json", "2019-01-31-events.json", "2019-02-01-events.json"]
    assert (tmp_path / "cli/log_data/2019/02/2019-02-01-events.json").exists()
    n = sum(len(p.read_bytes().split(b"\n")) for p in (tmp_path / "cli").rglob("*-events.json"))
    assert printed["events"] == n


def test_log_json_path_is_byte_identical(data):
    from tests.conftest import real_data_or_skip

    real = real_data_or_skip() / "log_json_path.json"  # skips only outside CI (astro dev pytest)
    assert data.files["log_json_path.json"] == real.read_bytes()


# ----------------------------------------------------------------------------
# encoding and types
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_page_meta() -> dict[str, tuple[str, int]]:
    """page -> (method, status), as the real logs have them (one pair per page there)."""
    from tests.conftest import real_data_or_skip

    seen = defaultdict(set)
    for path in sorted((real_data_or_skip() / "log_data").rglob("*.json")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                event = json.loads(line)
                seen[event["page"]].add((event["method"], event["status"]))
    assert seen and all(len(pairs) == 1 for pairs in seen.values()), dict(seen)
    return {page: next(iter(pairs)) for page, pairs in seen.items()}


def test_events_are_encoded_like_the_real_files(data, real_page_meta):
    for line, e in zip(data.log_lines, data.events):
        clean = data.clean(e)
        assert list(clean) == EVENT_KEYS
        assert line == _real_style(clean)
        assert isinstance(e["userId"], str)
        assert isinstance(e["ts"], int) and isinstance(e["sessionId"], int)
        assert isinstance(e["itemInSession"], int) and isinstance(e["status"], int)
        assert e["registration"] is None or isinstance(e["registration"], float)
        assert (e["method"], e["status"]) == real_page_meta[e["page"]]
        assert e["level"] in ("free", "paid")
    assert any("\\/" in line for line in data.log_lines)  # user agents have '/'


def test_songs_are_encoded_like_the_real_files(data):
    for name, raw in data.song_files.items():
        s = data.songs[name]
        assert list(s) == SONG_KEYS
        assert raw.decode("ascii") == _real_style(s)
        assert re.fullmatch(r"SO[A-Z0-9]{16}", s["song_id"])
        assert re.fullmatch(r"AR[A-Z0-9]{16}", s["artist_id"])
        assert s["num_songs"] == 1
        assert isinstance(s["duration"], float) and s["duration"] > 0
        assert isinstance(s["year"], int)
        assert (s["artist_latitude"] is None) == (s["artist_longitude"] is None)


# ----------------------------------------------------------------------------
# realistic shape
# ----------------------------------------------------------------------------


def test_next_song_share_is_realistic(data):
    share = sum(e["page"] == "NextSong" for e in data.events) / len(data.events)
    assert 0.75 <= share <= 0.92, share  # real data: 6820 / 8056 = 0.847
    pages = Counter(e["page"] for e in data.events)
    assert {"Home", "Login", "Logout", "Settings", "Help", "About"} <= set(pages)
    for e in data.events:
        if e["page"] == "NextSong":
            assert isinstance(e["artist"], str) and isinstance(e["song"], str)
            assert isinstance(e["length"], float)
        else:
            assert e["artist"] is None and e["song"] is None and e["length"] is None


def test_logged_out_events(data):
    out = [e for e in data.events if e["auth"] != "Logged In"]
    assert out, "expected some logged-out events"
    for e in out:
        assert e["auth"] == "Logged Out"
        assert e["userId"] == ""
        for f in USER_FIELDS:
            assert e[f] is None, (f, e)
        assert e["page"] != "NextSong"
        assert e["page"] in ("Home", "Login", "About", "Help")
    for e in data.events:
        if e["auth"] == "Logged In":
            assert e["userId"] != "" and all(e[f] is not None for f in USER_FIELDS)


def test_logged_in_user_attributes_are_stable(data):
    seen = defaultdict(set)
    for e in data.events:
        if e["userId"]:
            seen[e["userId"]].add(tuple(e[f] for f in USER_FIELDS))
    assert len(seen) > 10
    assert all(len(v) == 1 for v in seen.values())


def test_events_of_a_file_are_in_that_day_and_sorted(data):
    by_file = defaultdict(list)
    for e in data.events:
        by_file[e["_file"]].append(e["ts"])
    for name, ts in by_file.items():
        day = date.fromisoformat(Path(name).name[:10])
        lo = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        assert all(lo <= t < lo + 86_400_000 for t in ts), name
        assert ts == sorted(ts), name


def test_sessions(data):
    sessions = defaultdict(list)
    for e in data.events:
        sessions[e["sessionId"]].append(e)
    assert len(sessions) > 50
    for sid, evs in sessions.items():
        evs.sort(key=lambda e: e["itemInSession"])
        items = [e["itemInSession"] for e in evs]
        assert items == list(range(len(evs))), sid
        ts = [e["ts"] for e in evs]
        assert all(a < b for a, b in itertools.pairwise(ts)), sid
        assert len({e["userId"] for e in evs if e["userId"]}) <= 1, sid


def test_some_ts_shared_by_two_events(data):
    by_ts = defaultdict(list)
    for e in data.events:
        by_ts[e["ts"]].append(e)
    shared = [evs for evs in by_ts.values() if len(evs) > 1]
    assert shared
    assert any(len({(e["sessionId"], e["userId"]) for e in evs}) > 1 for evs in shared)


def test_some_users_change_level_at_a_submit_event(data):
    per_user = defaultdict(list)
    for e in sorted(data.events, key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"])):
        if e["userId"]:
            per_user[e["userId"]].append(e)
    changed = 0
    for uid, evs in per_user.items():
        flips = [(a, b) for a, b in itertools.pairwise(evs) if a["level"] != b["level"]]
        for a, b in flips:
            expected = "Submit Upgrade" if a["level"] == "free" else "Submit Downgrade"
            assert a["page"] == expected, (uid, a, b)
        changed += bool(flips)
    assert changed >= max(1, round(0.03 * len(per_user))), changed
    submits = [e for e in data.events if e["page"].startswith("Submit ")]
    assert submits
    for e in submits:
        assert e["level"] == ("free" if e["page"] == "Submit Upgrade" else "paid")


def test_non_ascii_text(data):
    titles = [s["title"] for s in data.songs.values() if isinstance(s["title"], str)]
    names = [s["artist_name"] for s in data.songs.values() if isinstance(s["artist_name"], str)]
    locations = [s["artist_location"] for s in data.songs.values() if isinstance(s["artist_location"], str)]
    assert sum(not t.isascii() for t in titles) >= 0.05 * len(titles)
    assert sum(not n.isascii() for n in names) >= 0.05 * len(names)
    assert any(not loc.isascii() for loc in locations)
    assert any(not e["song"].isascii() for e in data.events if e["song"])
    assert all(raw.isascii() for raw in data.files.values())  # escaped as \uXXXX
    assert any(b"\\u" in raw for raw in data.log_files.values())


def test_some_titles_are_numbers(data):
    numeric = [s for s in data.songs.values() if not isinstance(s["title"], str)]
    assert numeric
    assert all(isinstance(s["title"], (int, float)) for s in numeric)
    assert len(numeric) <= 0.02 * len(data.songs)


def test_songs_share_artists_and_some_conflict(data):
    by_artist = defaultdict(list)
    for s in data.songs.values():
        by_artist[s["artist_id"]].append(s)
    assert len(by_artist) < len(data.songs)
    assert sum(len(v) > 1 for v in by_artist.values()) >= 10
    name_conflicts = [a for a, v in by_artist.items() if len({str(s["artist_name"]) for s in v}) > 1]
    loc_conflicts = [a for a, v in by_artist.items() if len({str(s["artist_location"]) for s in v}) > 1]
    assert name_conflicts and loc_conflicts
    assert len(name_conflicts) <= 0.2 * len(by_artist)  # a minority, as in real data
    years = Counter(s["year"] == 0 for s in data.songs.values())
    assert years[True] >= 0.1 * len(data.songs) and years[False] >= 0.5 * len(data.songs)
    assert any(s["artist_location"] == "" for s in data.songs.values())
    assert any(s["artist_latitude"] is None for s in data.songs.values())
    assert any(s["artist_latitude"] is not None for s in data.songs.values())


def test_next_song_events_match_the_catalogue(data):
    catalogue = {(str(s["title"]), str(s["artist_name"]), s["duration"]) for s in data.songs.values()}
    plays = [e for e in data.events if e["page"] == "NextSong"]
    matched = sum((e["song"], e["artist"], e["length"]) in catalogue for e in plays)
    share = matched / len(plays)
    assert 0.5 <= share <= 0.85, share
    titles = {t for t, _, _ in catalogue}
    assert any(e["song"] not in titles for e in plays)  # truly unknown songs exist
    # lengths are written with the same float text as the durations
    durations = {repr(s["duration"]) for s in data.songs.values()}
    assert (
        sum(
            f'"length":{e["length"]!r}' in line and repr(e["length"]) in durations
            for line, e in zip(data.log_lines, data.events)
            if e["page"] == "NextSong"
        )
        == matched
    )


def test_small_and_edge_specs(tmp_path):
    summary = generate(tmp_path / "tiny", GeneratorSpec(events=20, songs=0, users=3, days=2, seed=1))
    files = _files(tmp_path / "tiny")
    assert summary["song_files"] == 0 and summary["log_files"] == 2
    assert not any(k.startswith("song_data/") for k in files)
    n = sum(len(v.split(b"\n")) for k, v in files.items() if k.startswith("log_data/") and v)
    assert n == summary["events"] > 0
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", GeneratorSpec(days=0))
