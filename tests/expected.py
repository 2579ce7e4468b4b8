"""Expected warehouse contents computed straight from the JSON files, independently of the
pipeline's SQL: what each table must hold after loading a set of events and songs."""

# What is independent here and what is an agreed rule.
#
# Independent of the pipeline: which events and songs exist (read from the JSON files
# here), which events are songplays (NextSong with a userId), the columns of every row,
# the counts, the per-hour and per-day figures, the calendar units of a start_time.
#
# Agreed rules, shared with include/sql/ on purpose: the JSON does not decide these (it
# has ties, conflicting duplicates, no key), so the project chose a rule and the tests
# apply the same rule; a test can only predict a row where it knows the rule. Each rule
# is stated once here, and a change to it must be made in both places:
#
# 1. songplay_id = MD5 of "userId|sessionId|itemInSession|ts" (load/songplays.sql), so an
#    event loaded twice is one row; exact duplicate events collapse to one songplay.
# 2. Catalog match (songplays' song_id, artist_id): on (title, artist_name, duration);
#    when several songs have that key, the smallest (song_id, artist_id) wins.
# 3. users: a user as of their latest event; ties on ts go to the larger sessionId, then
#    the larger itemInSession, then the level first in alphabetical order ("free" over
#    "paid") (load/users.sql). A replayed old hour never replaces a newer row.
# 4. songs: a song_id found in several files keeps the smallest (artist_id, title,
#    duration) (load/songs.sql).
# 5. artists: an artist_id with conflicting names or locations takes them from the
#    artist's song with the smallest song_id (load/artists.sql).
# 6. time.weekday is PostgreSQL/Redshift DOW: Sunday 0 .. Saturday 6.
# 7. daily_listening: a day's top song and top artist are the most played; ties go to the
#    smallest id; plays with no catalog match count in the totals only; paid_share is
#    rounded half up to 4 places (analytics/daily_listening.sql).

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

EPOCH = datetime(1970, 1, 1)


def read_events(root: Path) -> list[dict]:
    events = []
    for path in sorted((root / "log_data").rglob("*.json")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                events.append(json.loads(line))
    return events


def read_songs(root: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "song_data").rglob("*.json"))]


def text(value) -> str | None:
    """A JSON value as the warehouse's text column holds it."""
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def start_time(ts: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ts)


def in_window(event: dict, start_ms: int | None, end_ms: int | None) -> bool:
    return start_ms is None or start_ms <= event["ts"] < end_ms


def songplays(events: list[dict], songs: list[dict]) -> dict[str, dict]:
    """songplay_id -> row, for NextSong events of logged-in users (rules 1 and 2)."""
    catalog: dict[tuple, tuple] = {}
    for s in songs:
        key = (text(s["title"]), text(s["artist_name"]), s["duration"])
        catalog[key] = min(catalog.get(key, (s["song_id"], s["artist_id"])), (s["song_id"], s["artist_id"]))
    rows = {}
    for e in events:
        if e["page"] != "NextSong" or not e["userId"]:
            continue
        ident = f"{e['userId']}|{e['sessionId']}|{e['itemInSession']}|{e['ts']}"
        song_id, artist_id = catalog.get((e["song"], e["artist"], e["length"]), (None, None))
        rows[hashlib.md5(ident.encode()).hexdigest()] = {
            "start_time": start_time(e["ts"]),
            "user_id": int(e["userId"]),
            "level": e["level"],
            "song_id": song_id,
            "artist_id": artist_id,
            "session_id": e["sessionId"],
            "location": e["location"],
            "user_agent": e["userAgent"],
        }
    return rows


def users(events: list[dict]) -> dict[int, dict]:
    """user_id -> the user as of their latest event (rule 3)."""
    latest: dict[str, dict] = {}

    def rank(e):
        return (e["ts"], e["sessionId"], e["itemInSession"], [-ord(c) for c in e["level"]])

    for e in events:
        if e["userId"] and (e["userId"] not in latest or rank(e) > rank(latest[e["userId"]])):
            latest[e["userId"]] = e
    return {
        int(uid): {
            "first_name": e["firstName"],
            "last_name": e["lastName"],
            "gender": e["gender"],
            "level": e["level"],
            "last_seen_at": start_time(e["ts"]),
        }
        for uid, e in latest.items()
    }


def songs_table(songs: list[dict]) -> dict[str, dict]:
    """song_id -> the song (rule 4)."""
    best: dict[str, dict] = {}
    for s in songs:
        row = {"title": text(s["title"]), "artist_id": s["artist_id"], "year": s["year"], "duration": s["duration"]}
        if s["song_id"] not in best or (row["artist_id"], row["title"], row["duration"]) < (
            best[s["song_id"]]["artist_id"],
            best[s["song_id"]]["title"],
            best[s["song_id"]]["duration"],
        ):
            best[s["song_id"]] = row
    return best


def artists_table(songs: list[dict]) -> dict[str, dict]:
    """artist_id -> the artist as given by the artist's song with the smallest song_id (rule 5)."""
    chosen: dict[str, dict] = {}
    for s in sorted(songs, key=lambda s: s["song_id"], reverse=True):
        chosen[s["artist_id"]] = {
            "name": text(s["artist_name"]),
            "location": text(s["artist_location"]),
            "latitude": s["artist_latitude"],
            "longitude": s["artist_longitude"],
        }
    return chosen


def time_table(plays: dict[str, dict]) -> dict[datetime, dict]:
    """start_time -> its calendar units (rule 6 for weekday)."""
    out = {}
    for row in plays.values():
        t = row["start_time"]
        out[t] = {
            "hour": t.hour,
            "day": t.day,
            "week": t.isocalendar()[1],
            "month": t.month,
            "year": t.year,
            "weekday": (t.weekday() + 1) % 7,
        }
    return out


def nextsong_per_hour(events: list[dict]) -> dict[datetime, int]:
    counts: dict[datetime, int] = defaultdict(int)
    for e in events:
        if e["page"] == "NextSong" and e["userId"]:
            counts[start_time(e["ts"]).replace(minute=0, second=0, microsecond=0)] += 1
    return counts


def daily_listening(events: list[dict], songs: list[dict]) -> dict[date, tuple]:
    """play_date -> (plays, listeners, paid_plays, free_plays, paid_share, paid_listeners_now,
    top_song_id, top_song_title, top_song_plays, top_artist_id, top_artist_name,
    top_artist_plays), the columns of daily_listening (rule 7)."""
    level_now = {uid: u["level"] for uid, u in users(events).items()}
    titles = {sid: row["title"] for sid, row in songs_table(songs).items()}
    names = {aid: row["name"] for aid, row in artists_table(songs).items()}
    days: dict[date, list[dict]] = defaultdict(list)
    for play in songplays(events, songs).values():
        days[play["start_time"].date()].append(play)

    def top(counter: Counter) -> tuple:
        return min(counter.items(), key=lambda kv: (-kv[1], kv[0])) if counter else (None, None)

    out = {}
    for day, plays in days.items():
        paid = sum(p["level"] == "paid" for p in plays)
        listeners = {p["user_id"] for p in plays}
        song, song_n = top(Counter(p["song_id"] for p in plays if p["song_id"]))
        artist, artist_n = top(Counter(p["artist_id"] for p in plays if p["artist_id"]))
        out[day] = (
            len(plays),
            len(listeners),
            paid,
            len(plays) - paid,
            (Decimal(paid) / len(plays)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
            sum(level_now[u] == "paid" for u in listeners),
            song,
            titles.get(song),
            song_n,
            artist,
            names.get(artist),
            artist_n,
        )
    return out
