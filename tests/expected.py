"""Expected warehouse contents computed straight from the JSON files, independently of the
pipeline's SQL: what each table must hold after loading a set of events and songs."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
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
    """songplay_id -> row, for NextSong events of logged-in users (duplicates collapse)."""
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
            "start_time": start_time(e["ts"]), "user_id": int(e["userId"]), "level": e["level"],
            "song_id": song_id, "artist_id": artist_id, "session_id": e["sessionId"],
            "location": e["location"], "user_agent": e["userAgent"],
        }
    return rows


def users(events: list[dict]) -> dict[int, dict]:
    """user_id -> the user as of their latest event (ties: session, item, then level a-z)."""
    latest: dict[str, dict] = {}

    def rank(e):
        return (e["ts"], e["sessionId"], e["itemInSession"], [-ord(c) for c in e["level"]])

    for e in events:
        if e["userId"] and (e["userId"] not in latest or rank(e) > rank(latest[e["userId"]])):
            latest[e["userId"]] = e
    return {int(uid): {"first_name": e["firstName"], "last_name": e["lastName"], "gender": e["gender"],
                       "level": e["level"], "last_seen_at": start_time(e["ts"])} for uid, e in latest.items()}


def songs_table(songs: list[dict]) -> dict[str, dict]:
    best: dict[str, dict] = {}
    for s in songs:
        row = {"title": text(s["title"]), "artist_id": s["artist_id"], "year": s["year"], "duration": s["duration"]}
        if s["song_id"] not in best or (row["artist_id"], row["title"], row["duration"]) < (
                best[s["song_id"]]["artist_id"], best[s["song_id"]]["title"], best[s["song_id"]]["duration"]):
            best[s["song_id"]] = row
    return best


def artists_table(songs: list[dict]) -> dict[str, dict]:
    """artist_id -> the artist as given by the artist's song with the smallest song_id."""
    chosen: dict[str, dict] = {}
    for s in sorted(songs, key=lambda s: s["song_id"], reverse=True):
        chosen[s["artist_id"]] = {"name": text(s["artist_name"]), "location": text(s["artist_location"]),
                                  "latitude": s["artist_latitude"], "longitude": s["artist_longitude"]}
    return chosen


def time_table(plays: dict[str, dict]) -> dict[datetime, dict]:
    out = {}
    for row in plays.values():
        t = row["start_time"]
        out[t] = {"hour": t.hour, "day": t.day, "week": t.isocalendar()[1], "month": t.month, "year": t.year,
                  "weekday": (t.weekday() + 1) % 7}
    return out


def nextsong_per_hour(events: list[dict]) -> dict[datetime, int]:
    counts: dict[datetime, int] = defaultdict(int)
    for e in events:
        if e["page"] == "NextSong" and e["userId"]:
            counts[start_time(e["ts"]).replace(minute=0, second=0, microsecond=0)] += 1
    return counts
