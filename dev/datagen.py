"""Deterministic, seeded generator of Sparkify-format data in the S3 layout.

Writes, under ``out_dir``::

    log_data/YYYY/MM/YYYY-MM-DD-events.json     one file per day, JSON lines
    song_data/A/<TR[3]>/<TR[4]>/TR<16>.json     one compact JSON object per song
    log_json_path.json                          byte-identical to the course file

Format (copied from the real course files, not from a spec):

* Compact JSON (``,``/``:`` separators), ``ensure_ascii`` escapes (``\\u00e9``),
  and ``/`` written as ``\\/`` (the real files do this, in both data sets).
* No final newline; log lines are joined by ``"\\n"``; lines sorted by ``ts``.
* Log event keys in the real order (alphabetical, ``artist`` ... ``userId``);
  song keys alphabetical (``artist_id`` ... ``year``).
* ``ts`` and ``registration`` are epoch ms ending in ``796`` like every real
  value (so timestamps have whole-second resolution and collide naturally);
  ``registration`` is a float (``1540919166796.0``); ``userId`` a string.
* Logged-out events: ``auth`` "Logged Out", ``userId`` "", null firstName,
  gender, lastName, location, registration, userAgent (and artist, song,
  length); ``level`` keeps a value; pages Home/Login/About/Help only.
* A track's file lives in ``song_data/<TR[2]>/<TR[3]>/<TR[4]>/``; ``TR[2]`` is
  always ``A`` as in the full course bucket (A/A/A .. A/Z/Z).

Shape: ~85% NextSong events (the real share is 6820/8056 = 84.7%), sessions
with increasing ``itemInSession`` and strictly increasing ``ts``, sessions
that spill over midnight continue in the next day's file, some users switch
level with "Submit Upgrade"/"Submit Downgrade" (the submit event still carries
the old level, the next event the new one), at least one ``ts`` shared by two
users each day (when a day has two sessions), MATCH_SHARE of NextSong events
play a catalogue song (exact title, artist_name and duration), the rest play
songs absent from the catalogue. Songs: artists repeat, some with conflicting
names/locations across their songs, ~32% ``year`` 0, and a small deterministic
share of numbers where strings belong (title, artist_name, artist_location).

Memory: songs and artists are derived from their index (per-index RNG, with
bounded LRU caches), so nothing grows with the catalogue; events are generated
and written one day at a time (chunked writes), so memory grows only with the
events of one day.  Sessions are processed in start-time order and a user is
not given overlapping sessions while another user is free; when events per day
exceed what the users can play (about 300 events per user per day), sessions
of one user do overlap, but never one containing a level switch.

Measured once (2-vCPU container, Python 3.11, default users/days/seed),
events=1_000_000, songs=100_000 (996k-998k events written, 480 MB):
38.8 s wall / 32 s user on tmpfs; 68 s wall on the container's ext4 disk
(I/O wait for 100k small files; earlier runs of nearly the same code took
54-77 s there); peak RSS 109 MB.

CLI::

    python -m dev.datagen OUT_DIR [--events N] [--songs N]
        [--users N] [--days N] [--start YYYY-MM-DD] [--seed N]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _encode_ascii
from pathlib import Path

__all__ = ["LOG_JSON_PATH", "MATCH_SHARE", "GeneratorSpec", "generate", "main"]

# --------------------------------------------------------------------------
# Tunables
# --------------------------------------------------------------------------

#: Share of NextSong events that play a song of the generated catalogue
#: (identical title, artist_name and duration == length).
MATCH_SHARE = 0.65
#: Every ts / registration ends in this many ms (true of all real values).
TS_MS = 796
#: Average songs per artist (real: 14,896 songs / 9,553 artists).
SONGS_PER_ARTIST = 1.56
#: Share of users who change level during the period (real: 8 of 97).
LEVEL_SWITCH_SHARE = 0.10
#: Song-level quirks, by song index (deterministic, independent of the seed).
NUMERIC_TITLE_EVERY, NUMERIC_TITLE_AT = 211, 17
NUMERIC_ARTIST_EVERY, NUMERIC_ARTIST_AT = 997, 401
NUMERIC_LOCATION_EVERY, NUMERIC_LOCATION_AT = 1499, 733

#: The keys of a log event, in the order of log_json_path.json (and of staging_events).
EVENT_KEYS = (
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
)

#: Byte-identical copy of the course's log_json_path.json (no final newline).
LOG_JSON_PATH = '{\n    "jsonpaths": [\n' + ",\n".join(f"        \"$['{k}']\"" for k in EVENT_KEYS) + "\n    ]\n}"

_KIND_SONG, _KIND_ARTIST, _KIND_USERS, _KIND_EVENTS, _KIND_IDS = 1, 2, 3, 4, 5
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = "0123456789" + _UPPER
_HEX = "0123456789ABCDEF"

# --------------------------------------------------------------------------
# Vocabulary (invented; nothing here is copied from the course data)
# --------------------------------------------------------------------------

_ADJ = (
    "Blue Broken Golden Silent Electric Wild Lonely Crazy Sweet Dark Little "
    "Midnight Burning Lost Secret Holy Cold Summer Velvet Neon Paper Rainy "
    "Sunny Wicked Endless Hollow Northern Sacred Restless Fading Happy Last "
    "First Dirty Lucky Silver Crimson Bitter Gentle Savage"
).split()
_NOUN = (
    "Heart Love Night River Dream Fire Road Rain Sky Soul Highway City Ocean "
    "Angel Shadow Moon Train Light Thunder Memory Garden Mirror Stranger "
    "Letter Window Mountain Party Radio Diamond Echo Storm Heaven Girl Boy "
    "Song Dance Morning Kingdom Island Horizon"
).split()
_VERB = "Hold Take Love Save Call Kiss Leave Find Show Tell Help Need Forgive Wake".split()
_PRON = ("Me", "You", "Me Now", "Me Tonight", "Us", "It", "Her", "Him")
_INTL_WORD = (
    "Corazón Noche Amor Cœur Été Rêve Straße Mädchen Träume Ljós Sól Ночь "
    "Любовь Звезда 夢 東京 愛 Canção Saudade Kärlek Månsken Göteborg Ñandú"
).split()
_INTL_TITLE = (
    "Corazón Salvaje",
    "Été Indien",
    "Nuit Blanche",
    "Straße der Sehnsucht",
    "Mädchen aus Köln",
    "Canción del Mariachi",
    "Ya no sé qué hacer",
    "Água de Beber",
    "São Paulo à Noite",
    "Niño Perdido",
    "Señorita Bonita",
    "Ça plane pour moi",
    "Déjà Vu",
    "Hoppípolla",
    "Fjöllin hafa vakað",
    "Sæglópur",
    "Любовь и голуби",
    "Ночь",
    "Звезда по имени Солнце",
    "Группа крови",
    "夜に駆ける",
    "さくら",
    "東京の夜",
    "上を向いて歩こう",
    "星空のディスタンス",
    "Kesäyö",
    "Mañana",
    "Überall",
    "Żółty Księżyc",
    "Symphony No. 9 – Largo",
    "Coração Vagabundo",
    "Je t'aime… moi non plus",
    "Garçon",
    "Fiesta en la Playa",
    "Ålesund",
    "Smörgåsbord",
    "Łzy",
    "Céu Azul",
)
_TITLE_SUFFIX = (
    " (Album Version)",
    " (Live)",
    " (Remix)",
    " - Remastered",
    " (Demo)",
    " (LP Version)",
    " (Radio Edit)",
    " (Acoustic)",
    " [Explicit]",
)
_FIRST = (
    "John Mary Johnny Billie Ella Frank Nina Otis Aretha Bob Patsy Willie "
    "Marvin Dolly Ray Etta Louis Sam Carole Tom Kelly Miles Norah Chet Tracy "
    "Jack Diana Stevie Jimmy Lucy"
).split()
_LAST = (
    "Smith Jones Cash Holiday Fitzgerald Sinatra Simone Redding Franklin Dylan "
    "Cline Nelson Gaye Parton Charles James Armstrong Cooke King Waits "
    "Clarkson Davis Baker Chapman White Ross Wonder Page Rose Walker"
).split()
_INTL_FIRST = (
    "José Zoë Björn Jürgen Søren Ólafur Jóhann Andrés François Chloé Mía "
    "Łukasz Zdeněk Hélène Ñico Şebnem Анна Борис Мария ひかる 健太"
).split()
_INTL_LAST = (
    "Müller Sjöberg Ørsted Arnalds Jóhannsson Núñez Pérez Göransson Dvořák "
    "Szymański Béranger Gonçalves Çelik Пугачёва Цой Иванов 宇多田 坂本 山下 Ibáñez"
).split()
_FAMOUS_INTL = (
    "Beyoncé",
    "Sigur Rós",
    "Motörhead",
    "Björk",
    "Mötley Crüe",
    "Café Tacuba",
    "Blue Öyster Cult",
    "Hüsker Dü",
    "Mägo de Oz",
    "Queensrÿche",
    "Кино",
    "Алла Пугачёва",
    "宇多田ヒカル",
    "坂本龍一",
    "きゃりーぱみゅぱみゅ",
    "Maná",
    "Céline Dion",
    "Édith Piaf",
    "Françoise Hardy",
    "Sinéad O'Connor",
    "Röyksopp",
    "Múm",
    "Alizée",
    "Antônio Carlos Jobim",
    "Ménage à Trois",
)
#: (location, latitude, longitude) - rounded public city coordinates.
_ARTIST_PLACES = (
    ("San Francisco, CA", 37.77916, -122.42005),
    ("Memphis, TN", 35.14968, -90.04892),
    ("London, England", 51.50632, -0.12714),
    ("Denver, CO", 39.74001, -104.99226),
    ("New York, NY", 40.71455, -74.00712),
    ("Chicago, IL", 41.88415, -87.63241),
    ("Nashville, TN", 36.16778, -86.77836),
    ("Los Angeles, CA", 34.05349, -118.24532),
    ("Seattle, WA", 47.60356, -122.32944),
    ("Atlanta, GA", 33.74831, -84.39111),
    ("Detroit, MI", 42.33168, -83.04792),
    ("Austin, TX", 30.26715, -97.74306),
    ("Toronto, Ontario, Canada", 43.64856, -79.38533),
    ("Manchester, England", 53.4796, -2.24881),
    ("Dublin, Ireland", 53.34376, -6.24953),
    ("Malmö, Sweden", 55.60098, 13.00073),
    ("Umeå, Sweden", 63.82558, 20.26307),
    ("Québec", 52.47609, -71.82587),
    ("München, Germany", 48.13641, 11.57754),
    ("São Paulo, Brazil", -23.56288, -46.65441),
    ("Reykjavík, Iceland", 64.13548, -21.89541),
    ("Kraków, Poland", 50.06045, 19.93242),
    ("Zürich, Switzerland", 47.37174, 8.54228),
    ("Москва, Россия", 55.75696, 37.61502),
    ("東京, 日本", 35.68986, 139.69171),
    ("Bogotá, Colombia", 4.59814, -74.07609),
    ("Göteborg, Sweden", 57.70716, 11.96679),
    ("Kingston, Jamaica", 18.01585, -76.79741),
    ("Paris, France", 48.85692, 2.34121),
    ("Berlin, Germany", 52.51607, 13.37698),
    ("Tromsø, Norway", 69.6489, 18.95508),
    ("Montréal, Québec, Canada", 45.51228, -73.55439),
)
#: Locations that appear without coordinates.
_ARTIST_PLACES_NO_COORDS = (
    "Brandon",
    "California - LA",
    "Texas",
    "UK",
    "Ubá, Minas Gerais",
    "Havířov, Česká republika",
    "Midwest",
    "Bronx, NY",
    "Skåne",
    "Tsidjé,Comores",
)
_NUMERIC_TITLES = (66, 1888, 5, 2004, 31, 101, 1992, 420, 4.6, 19)
_NUMERIC_ARTISTS = (112, 2562, 2002, 883, 1001, 702)
_NUMERIC_LOCATIONS = (27, 108, 99, 100, 780)

_USER_FIRST = (
    "Walter Kaylee Ryan Jayden Lily Jacob Ava Tegan Chloe Aleena Mohammad "
    "Kate Jordan Rylan Layla Matthew Sara Cienna Emily Wyatt Sean Anabelle "
    "Molly Adelyn Lucero Avery Celeste Brayden Theodore Isaac Katherine "
    "Connar Stefany Jizelle Samuel Kinsley Cecilia Alivia Maia Jaleah"
).split()
_USER_LAST = (
    "Frye Summers Smith Jones Campbell Garcia Robinson Levine Cruz Kirby "
    "Williams Harrell Hicks Moreno Griffin Owens Johnson Lynch Fox Scott "
    "Jensen Sanchez Taylor Hogan Reed Bell Williamson Clark Perez Larson "
    "Moss Gray Cox Morris Stewart Barrera Powell Bowen Parker Haley"
).split()
_USER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Salt Lake City, UT",
    "Saginaw, MI",
    "Portland-Vancouver-Hillsboro, OR-WA",
    "Dallas-Fort Worth-Arlington, TX",
    "Waterloo-Cedar Falls, IA",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Eugene, OR",
    "Milwaukee-Waukesha-West Allis, WI",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Lansing-East Lansing, MI",
    "Houston-The Woodlands-Sugar Land, TX",
    "Los Angeles-Long Beach-Anaheim, CA",
    "Seattle-Tacoma-Bellevue, WA",
    "Miami-Fort Lauderdale-West Palm Beach, FL",
    "Boston-Cambridge-Newton, MA-NH",
    "Detroit-Warren-Dearborn, MI",
    "Tampa-St. Petersburg-Clearwater, FL",
    "Red Bluff, CA",
    "Birmingham-Hoover, AL",
    "Augusta-Richmond County, GA-SC",
    "Winston-Salem, NC",
    "Tucson, AZ",
    "Las Vegas-Henderson-Paradise, NV",
    "Columbia, SC",
    "Janesville-Beloit, WI",
)
_USER_AGENTS = (
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.125 Safari/537.36"',
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/37.0.2062.94 Safari/537.36"',
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) Version/7.0.6 Safari/537.78.2"',
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 (KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"',
    '"Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/36.0.1985.143 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0",
)

# page -> (method, status), as in the real logs
_PAGE_META = {
    "NextSong": ("PUT", 200),
    "Home": ("GET", 200),
    "Login": ("PUT", 307),
    "Logout": ("PUT", 307),
    "Settings": ("GET", 200),
    "Save Settings": ("PUT", 307),
    "Help": ("GET", 200),
    "About": ("GET", 200),
    "Upgrade": ("GET", 200),
    "Downgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307),
    "Submit Downgrade": ("PUT", 307),
    "Error": ("GET", 404),
}
# Logged-in page mix after the first event of a session (NextSong ~87% here;
# with session openers and logged-out events the file share lands near 84%).
_PAGES_FREE = (
    ("NextSong", 890),
    ("Home", 50),
    ("Logout", 11),
    ("Settings", 6),
    ("Help", 5),
    ("About", 3),
    ("Upgrade", 3),
    ("Error", 1),
)
_PAGES_PAID = (
    ("NextSong", 890),
    ("Home", 46),
    ("Logout", 11),
    ("Settings", 6),
    ("Help", 5),
    ("About", 3),
    ("Downgrade", 10),
    ("Error", 1),
)
# Session start hour weights (UTC).
_HOUR_WEIGHTS = (6, 5, 4, 3, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 12, 11, 10, 9, 8, 8, 7)


def _cumulative(pairs):
    names, total, cum = [], 0, []
    for name, w in pairs:
        total += w
        names.append(name)
        cum.append(total)
    return tuple(names), tuple(c / total for c in cum)


_FREE_NAMES, _FREE_CUM = _cumulative(_PAGES_FREE)
_PAID_NAMES, _PAID_CUM = _cumulative(_PAGES_PAID)
_HOUR_NAMES, _HOUR_CUM = _cumulative(enumerate(_HOUR_WEIGHTS))


def _js(value) -> str:
    """JSON text of one value, formatted like the real files."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return _encode_ascii(value).replace("/", "\\/")
    if isinstance(value, bool):  # pragma: no cover - not used
        return "true" if value else "false"
    return repr(value)  # int, float: same text json.dumps produces


_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _dumps(obj: dict) -> str:
    return _COMPACT.encode(obj).replace("/", "\\/")


def _subseed(seed: int, kind: int, index: int = 0) -> int:
    return ((((seed & 0xFFFFFFFFFFFF) << 8) | kind) << 40) | (index & 0xFFFFFFFFFF)


def _perm_hex(index: int, mult: int, offset: int, width: int = 7) -> str:
    """Bijective (for index < 16**width) pseudo-random hex block."""
    mod = 16**width
    return format((index * mult + offset) % mod, f"0{width}X")


# --------------------------------------------------------------------------
# Spec
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorSpec:
    events: int = 8000  # approximate total number of log events (all pages)
    songs: int = 400  # number of song files
    users: int = 96
    start: date = date(2018, 11, 1)
    days: int = 30  # number of consecutive daily log files
    seed: int = 42


# --------------------------------------------------------------------------
# Songs: every song/artist is a pure function of (seed, index)
# --------------------------------------------------------------------------


def _pick(r: random.Random, seq):
    """Like r.choice(seq) but faster (one r.random() call)."""
    return seq[int(r.random() * len(seq))]


def _pick_chars(r: random.Random, alphabet: str, n: int) -> str:
    k = len(alphabet)
    return "".join([alphabet[int(r.random() * k)] for _ in range(n)])


class _Catalogue:
    """Songs [0, songs) are written as files; songs >= songs are "unknown"
    songs that only appear in the logs (same generator, so same style)."""

    def __init__(self, seed: int, songs: int):
        self.seed = seed
        self.songs = songs
        self.n_artists = max(1, round(max(songs, 1) / SONGS_PER_ARTIST))
        ids = random.Random(_subseed(seed, _KIND_IDS))
        # odd multipliers -> bijections modulo 16**7
        self._tr = (ids.randrange(1, 16**7, 2), ids.randrange(16**7))
        self._so = (ids.randrange(1, 16**7, 2), ids.randrange(16**7))
        self._ar = (ids.randrange(1, 16**7, 2), ids.randrange(16**7))
        self.artist = lru_cache(maxsize=65536)(self._artist)
        self.log_song = lru_cache(maxsize=65536)(self._log_song)

    # -- artists -----------------------------------------------------------
    def _artist(self, a: int) -> tuple:
        r = random.Random(_subseed(self.seed, _KIND_ARTIST, a))
        artist_id = (
            "AR" + _pick_chars(r, _ALNUM, 5) + "1" + _pick(r, "12") + _pick_chars(r, _HEX, 2) + _perm_hex(a, *self._ar)
        )
        x = r.random()
        if x < 0.06:
            name = _pick(r, _FAMOUS_INTL)
        elif x < 0.20:
            name = f"{_pick(r, _INTL_FIRST)} {_pick(r, _INTL_LAST)}"
        elif x < 0.45:
            name = f"{_pick(r, _FIRST)} {_pick(r, _LAST)}"
        elif x < 0.70:
            name = f"The {_pick(r, _ADJ)} {_pick(r, _NOUN)}s"
        elif x < 0.80:
            name = f"{_pick(r, _INTL_WORD)} {_pick(r, _NOUN)}"
        elif x < 0.90:
            name = f"{_pick(r, _FIRST)} {_pick(r, _LAST)} & The {_pick(r, _NOUN)}s"
        else:
            name = f"{_pick(r, _ADJ)} {_pick(r, _NOUN)}"
        y = r.random()
        if y < 0.45:
            loc, lat, lon = "", None, None
        elif y < 0.60:
            loc, lat, lon = _pick(r, _ARTIST_PLACES_NO_COORDS), None, None
        else:
            loc, lat, lon = _pick(r, _ARTIST_PLACES)
            if r.random() < 0.15:
                lat = lon = None
            else:
                lat = round(lat + r.uniform(-0.05, 0.05), 5)
                lon = round(lon + r.uniform(-0.05, 0.05), 5)
        return artist_id, name, loc, lat, lon

    # -- songs -------------------------------------------------------------
    def song(self, i: int, with_ids: bool = True) -> tuple[str, dict]:
        """(track_id, song object in the real key order) for song index i.
        with_ids=False skips the ids (track_id "" and song_id None): the
        random draws for the ids come last, so every other field is equal."""
        r = random.Random(_subseed(self.seed, _KIND_SONG, i))
        artist_id, name, loc, lat, lon = self.artist(int(r.random() * self.n_artists))
        v = r.random()
        if v < 0.035:  # conflicting artist_name for the same artist_id
            other = self.artist(int(r.random() * self.n_artists))[1]
            form = int(r.random() * 4)
            name = (f"{name} featuring {other}", f"{name} / {other}", f"{name} & {other}", f"{name}_ {other}")[form]
        elif v < 0.045:  # conflicting location for the same artist_id
            loc = _pick(r, _ARTIST_PLACES_NO_COORDS) if loc == "" else ""
        title = self._title(r)
        duration = round(min(2700.0, max(6.0, r.lognormvariate(5.4, 0.45))), 5)
        if r.random() < 0.32:
            year = 0
        else:
            year = min(2010, max(1927, int(r.triangular(1950, 2010, 2007))))
        if i % NUMERIC_TITLE_EVERY == NUMERIC_TITLE_AT:
            title = _pick(r, _NUMERIC_TITLES)
        if i % NUMERIC_ARTIST_EVERY == NUMERIC_ARTIST_AT:
            name = _pick(r, _NUMERIC_ARTISTS)
        if i % NUMERIC_LOCATION_EVERY == NUMERIC_LOCATION_AT:
            loc = _pick(r, _NUMERIC_LOCATIONS)
        track_id = song_id = None
        if with_ids:
            track_id = (
                "TRA" + _pick_chars(r, _UPPER, 4) + "12" + _pick(r, "89") + _pick(r, "0CEF") + _perm_hex(i, *self._tr)
            )
            song_id = (
                "SO" + _pick_chars(r, _UPPER, 5) + "12" + _pick(r, "789ABC") + _pick(r, _HEX) + _perm_hex(i, *self._so)
            )
        return track_id or "", {
            "artist_id": artist_id,
            "artist_latitude": lat,
            "artist_location": loc,
            "artist_longitude": lon,
            "artist_name": name,
            "duration": duration,
            "num_songs": 1,
            "song_id": song_id,
            "title": title,
            "year": year,
        }

    @staticmethod
    def _title(r: random.Random) -> str:
        x = r.random()
        if x < 0.12:
            t = _pick(r, _INTL_TITLE)
        elif x < 0.22:
            t = f"{_pick(r, _INTL_WORD)} {_pick(r, _NOUN)}"
        elif x < 0.45:
            t = f"{_pick(r, _ADJ)} {_pick(r, _NOUN)}"
        elif x < 0.60:
            t = _pick(r, _NOUN)
        elif x < 0.75:
            t = f"{_pick(r, _NOUN)} Of The {_pick(r, _NOUN)}"
        elif x < 0.88:
            t = f"{_pick(r, _VERB)} {_pick(r, _PRON)}"
        elif x < 0.94:
            t = f"Don't {_pick(r, _VERB)} {_pick(r, _PRON)}"
        else:
            t = f"{_pick(r, _ADJ)} {_pick(r, _NOUN)} / {_pick(r, _NOUN)}"
        if r.random() < 0.15:
            t += _pick(r, _TITLE_SUFFIX)
        return t

    def _log_song(self, i: int) -> tuple[str, str, float]:
        """Pre-encoded (artist JSON, song JSON, length) as a log event shows it."""
        _, s = self.song(i, with_ids=False)
        return _js(str(s["artist_name"])), _js(str(s["title"])), s["duration"]


# --------------------------------------------------------------------------
# Users and events
# --------------------------------------------------------------------------


class _User:
    __slots__ = ("fields_json", "free_at", "level", "locked_until", "switch_days", "uid")

    def __init__(self, uid, first, last, gender, location, registration, agent, level):
        self.uid = uid
        self.level = level
        self.switch_days: list[int] = []
        self.free_at = 0  # epoch second after the user's last session
        self.locked_until = 0  # end of a session with a level switch: no overlap
        # pre-encoded logged-in fields: firstName, gender, lastName, location,
        # registration, userAgent, userId
        self.fields_json = (
            _js(first),
            _js(gender),
            _js(last),
            _js(location),
            _js(registration),
            _js(agent),
            _js(uid),
        )


_LOGGED_OUT_FIELDS = ("null", "null", "null", "null", "null", "null", '""')


def _make_users(spec: GeneratorSpec, start_epoch: int) -> tuple[list[_User], list[float]]:
    r = random.Random(_subseed(spec.seed, _KIND_USERS))
    n = max(0, spec.users)
    ids = sorted(r.sample(range(2, int(n * 1.1) + 3), n)) if n else []
    users, weights = [], []
    for uid in ids:
        gender = r.choice("MF")
        reg_s = start_epoch - r.randint(3 * 3600, 120 * 86400)
        u = _User(
            str(uid),
            r.choice(_USER_FIRST),
            r.choice(_USER_LAST),
            gender,
            r.choice(_USER_LOCATIONS),
            float(reg_s * 1000 + TS_MS),
            r.choice(_USER_AGENTS),
            "paid" if r.random() < 0.3 else "free",
        )
        users.append(u)
        weights.append(min(r.paretovariate(1.3), 30.0))
    if n and spec.days >= 2:
        k = max(1, round(n * LEVEL_SWITCH_SHARE))
        for ui in r.sample(range(n), k):
            u = users[ui]
            first = r.randrange(0, max(1, (spec.days * 2) // 3))
            u.switch_days.append(first)
            if r.random() < 0.3 and first + 1 < spec.days:
                u.switch_days.append(r.randrange(first + 1, spec.days))
            # switchers are a bit more active, so the switch shows up
            weights[ui] += 2.0
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    return users, [c / total for c in cum] if users else []


class _EventWriter:
    #: initial guess of events per session (refined from what is generated)
    EVENTS_PER_SESSION = 8.7

    def __init__(self, spec: GeneratorSpec, cat: _Catalogue):
        self.spec = spec
        self.cat = cat
        self.r = random.Random(_subseed(spec.seed, _KIND_EVENTS))
        self.start_epoch = int(datetime(spec.start.year, spec.start.month, spec.start.day, tzinfo=UTC).timestamp())
        self.users, self.user_cum = _make_users(spec, self.start_epoch)
        self.session_id = self.r.randint(1, 20)
        self.off_pool = max(100, spec.songs)
        self.seq = 0
        self.last_t = 0  # second of the last event of the last session
        self.switched = False  # did the last session switch the user's level

    # -- helpers -----------------------------------------------------------
    def _pick_user(self, start: int, avoid) -> tuple[_User | None, bool]:
        """A user for a session starting at `start`: (user, no_overlap).
        Prefers users who are not in a session already; when every candidate
        is busy (more events than users can produce) sessions of one user may
        overlap, but never one that contains a level switch."""
        r, users, cum = self.r, self.users, self.user_cum
        last = len(users) - 1
        cands = [users[min(bisect.bisect_left(cum, r.random()), last)] for _ in range(6)]
        for u in cands:
            if u is not avoid and u.free_at <= start:
                return u, True
        for u in cands:
            if u is not avoid and u.locked_until <= start:
                return u, False
        return None, False

    def _pick_song(self) -> tuple[str, str, float]:
        r = self.r
        if self.cat.songs > 0 and r.random() < MATCH_SHARE:
            idx = int(self.cat.songs * (r.random() ** 3.5))  # popular songs first
        else:  # unknown songs are popular or not, too
            idx = self.cat.songs + int(self.off_pool * (r.random() ** 3.5))
        return self.cat.log_song(idx)

    # -- sessions ----------------------------------------------------------
    def _session(self, user: _User | None, t: int, day: int, sink, may_switch: bool) -> int:
        """Generate one session starting at epoch second t; sink(t, line)
        returns False when t is past what may be written (session ends).
        Returns the number of events generated; sets self.last_t (second of
        the last one) and self.switched."""
        r = self.r
        sid = self.session_id
        self.session_id += 1 + (r.random() < 0.15)
        item = 0
        level = user.level if user is not None else ("paid" if r.random() < 0.6 else "free")
        self.last_t = t
        self.switched = False

        def emit(page, logged_in, song=None):
            nonlocal item, t
            method, status = _PAGE_META[page]
            if logged_in:
                fn, g, ln, loc, reg, ua, uid = user.fields_json
                auth = "Logged In"
            else:
                fn, g, ln, loc, reg, ua, uid = _LOGGED_OUT_FIELDS
                auth = "Logged Out"
            if song is None:
                artist_j = song_j = length_j = "null"
                x = r.random()
                gap = 1 + int(x * 66.7) if x < 0.9 else 60 + int((x - 0.9) * 8400)
            else:
                artist_j, song_j, length = song
                length_j = repr(length)
                gap = max(1, int(length) - 3 + int(r.random() * 8))
            line = (
                f'{{"artist":{artist_j},"auth":"{auth}","firstName":{fn},"gender":{g},'
                f'"itemInSession":{item},"lastName":{ln},"length":{length_j},'
                f'"level":"{level}","location":{loc},"method":"{method}","page":"{page}",'
                f'"registration":{reg},"sessionId":{sid},"song":{song_j},"status":{status},'
                f'"ts":{t * 1000 + TS_MS},"userAgent":{ua},"userId":{uid}}}'
            )
            if not sink(t, line):
                return False
            self.last_t = t
            item += 1
            t += gap
            return True

        if user is None:  # anonymous visitor: a few logged-out pages
            if not emit("Home", False):
                return item
            for _ in range(r.choice((0, 0, 0, 1, 1, 2))):
                if not emit(r.choice(("Home", "About", "Help", "Home")), False):
                    break
            return item

        length = 1 + int(r.expovariate(1 / 8.5))
        if r.random() < 0.08:  # arrives logged out, logs in
            if r.random() < 0.5 and not emit("Home", False):
                return item
            if not emit("Login", False) or not emit("Home", True):
                return item
        elif r.random() < 0.2:
            if not emit("Home", True):
                return item
        while item < length:
            if may_switch and user.switch_days and day >= user.switch_days[0] and item >= 1 and r.random() < 0.5:
                user.switch_days.pop(0)
                up = level == "free"
                if not emit("Upgrade" if up else "Downgrade", True):
                    return item
                # the submit event still carries the old level (as in real data)
                if not emit("Submit Upgrade" if up else "Submit Downgrade", True):
                    return item
                level = user.level = "paid" if up else "free"
                if not emit("Home", True):
                    return item
                self.switched = True
                continue
            if level == "free":
                names, cum = _FREE_NAMES, _FREE_CUM
            else:
                names, cum = _PAID_NAMES, _PAID_CUM
            page = names[bisect.bisect_left(cum, r.random())]
            if page == "NextSong":
                ok = emit("NextSong", True, self._pick_song())
            elif page == "Settings":
                ok = emit("Settings", True)
                if ok and r.random() < 0.2:
                    ok = emit("Save Settings", True)
            elif page == "Logout":
                ok = emit("Logout", True)
                if not ok:
                    return item
                if r.random() < 0.5:
                    ok = emit("Home", False)
                    if ok and r.random() < 0.6:
                        ok = emit("Login", False) and emit("Home", True)
                        if ok:
                            continue
                return item
            else:
                ok = emit(page, True)
            if not ok:
                return item
        return item

    # -- days --------------------------------------------------------------
    def day_targets(self) -> list[int]:
        spec = self.spec
        weights = []
        for d in range(spec.days):
            ramp = 0.55 + 0.45 * (d / max(1, spec.days - 1))
            weekend = 0.75 if (spec.start + timedelta(days=d)).weekday() >= 5 else 1.0
            weights.append(ramp * weekend * (0.85 + 0.3 * self.r.random()))
        total = sum(weights) or 1.0
        return [spec.events * w / total for w in weights]

    def run(self, out_dir: Path, stats: dict) -> None:
        spec = self.spec
        r = self.r
        targets = self.day_targets()
        carry: list[tuple[int, int, str]] = []
        n_events = n_sessions = 0
        for d in range(spec.days):
            day_start = self.start_epoch + d * 86400
            day_end = day_start + 86400
            today, carry = carry, []

            def sink(t, line, _today=today, _carry=carry, _end=day_end):
                self.seq += 1
                if t < _end:
                    _today.append((t, self.seq, line))
                elif t < _end + 86400:
                    _carry.append((t, self.seq, line))
                else:
                    return False
                return True

            # Session starts are drawn up front and processed in time order,
            # so a user's level and sessions stay consistent in time.
            per_session = n_events / n_sessions if n_sessions >= 50 else self.EVENTS_PER_SESSION
            k = max(2, round(targets[d] / per_session)) if spec.events > 0 else 0
            starts = sorted(
                day_start + _HOUR_NAMES[bisect.bisect_left(_HOUR_CUM, r.random())] * 3600 + r.randrange(3600)
                for _ in range(k)
            )
            first_user = None
            for j, start in enumerate(starts):
                if j == 1:
                    start = starts[0]  # two users start in the same second
                user, no_overlap = None, False
                if self.users and r.random() >= 0.03:
                    user, no_overlap = self._pick_user(start, first_user if j == 1 else None)
                if j == 0:
                    first_user = user
                n = self._session(user, start, d, sink, no_overlap)
                if user is not None:
                    end = self.last_t + 1
                    if self.switched:
                        user.locked_until = end
                    user.free_at = max(user.free_at, end)
                n_events += n
                n_sessions += 1
            if d == spec.days - 1:
                carry = []  # the period ends here
            today.sort()
            day = spec.start + timedelta(days=d)
            path = out_dir / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day:%Y-%m-%d}-events.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            with open(path, "wb") as fh:  # chunked: no second copy of the day
                for k in range(0, len(today), 4096):
                    chunk = "\n".join([x[2] for x in today[k : k + 4096]])
                    data = (("\n" if k else "") + chunk).encode("ascii")
                    fh.write(data)
                    size += len(data)
            stats["events"] += len(today)
            stats["next_song_events"] += sum(1 for x in today if '"page":"NextSong"' in x[2])
            stats["log_files"] += 1
            stats["bytes"] += size
            del today


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def generate(out_dir: Path | str, spec: GeneratorSpec = GeneratorSpec()) -> dict:
    """Write log_data/YYYY/MM/YYYY-MM-DD-events.json, song_data/X/Y/Z/TR....json and log_json_path.json under out_dir.
    Returns a summary dict: {"events": n, "next_song_events": n, "songs": n, "log_files": n, "song_files": n, "bytes": n}.
    Deterministic: same spec -> byte-identical files. Streams to disk: memory stays flat at 1M events / 100k songs (do not hold all events in memory at once; generate day by day).

    Existing files with the same names are overwritten; other files under
    out_dir are left alone (use an empty directory for exact counts)."""
    if spec.days < 1 or spec.events < 0 or spec.songs < 0 or spec.users < 0:
        raise ValueError(f"invalid spec: {spec}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = {"events": 0, "next_song_events": 0, "songs": 0, "log_files": 0, "song_files": 0, "bytes": 0}
    cat = _Catalogue(spec.seed, spec.songs)

    made_dirs: set[str] = set()
    song_root = out / "song_data"
    for i in range(spec.songs):
        track_id, obj = cat.song(i)
        rel = os.path.join(track_id[2], track_id[3], track_id[4])
        if rel not in made_dirs:
            (song_root / rel).mkdir(parents=True, exist_ok=True)
            made_dirs.add(rel)
        data = _dumps(obj).encode("ascii")
        fd = os.open(song_root / rel / f"{track_id}.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        stats["songs"] += 1
        stats["song_files"] += 1
        stats["bytes"] += len(data)

    _EventWriter(spec, cat).run(out, stats)

    data = LOG_JSON_PATH.encode("ascii")
    (out / "log_json_path.json").write_bytes(data)
    stats["bytes"] += len(data)
    return stats


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dev.datagen",
        description="Generate Sparkify-format log and song data in the S3 layout.",
    )
    d = GeneratorSpec()
    p.add_argument("out_dir", type=Path)
    p.add_argument("--events", type=int, default=d.events)
    p.add_argument("--songs", type=int, default=d.songs)
    p.add_argument("--users", type=int, default=d.users)
    p.add_argument("--days", type=int, default=d.days)
    p.add_argument("--start", type=date.fromisoformat, default=d.start)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument(
        "--log-key-template",
        help="write the logs by this SPARKIFY_LOG_KEY_TEMPLATE (e.g. log_data/%%Y/%%m/%%d/%%H/) instead of day files",
    )
    a = p.parse_args(argv)
    spec = GeneratorSpec(events=a.events, songs=a.songs, users=a.users, start=a.start, days=a.days, seed=a.seed)
    if a.log_key_template:
        import tempfile

        from dev.partition import partitioned_copy

        with tempfile.TemporaryDirectory() as tmp:
            summary = generate(tmp, spec)
            summary["log_objects"] = partitioned_copy(Path(tmp), a.out_dir, a.log_key_template)["objects"]
    else:
        summary = generate(a.out_dir, spec)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
