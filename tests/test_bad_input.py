"""Bad input on both sources: every source record ends in exactly one place — staged, or
in staging_rejects with its object key, line number and reason — and the errors say
where. Runs the PostgreSQL engine against the moto stand-in."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from include.sparkify import staging
from include.sparkify.window import Window
from tests.conftest import warehouse

UTC = UTC
BUCKET = "sparkify-bad-input"
DAY = "log_data/2018/11/2018-11-15-events.json"
HOUR = Window(datetime(2018, 11, 15, 13, tzinfo=UTC), datetime(2018, 11, 15, 14, tzinfo=UTC))

EVENT = {
    "artist": "Sigur Rós",
    "auth": "Logged In",
    "firstName": "Lily",
    "gender": "F",
    "itemInSession": 3,
    "lastName": "Koch",
    "length": 250.5,
    "level": "paid",
    "location": "Chicago, IL",
    "method": "PUT",
    "page": "NextSong",
    "registration": 1540919166796.0,
    "sessionId": 7,
    "song": "Hoppípolla",
    "status": 200,
    "ts": 1542288600796,
    "userAgent": "Mozilla/5.0",
    "userId": "15",
}
SONG = {
    "artist_id": "ARXXXX1187B9A1B2C3",
    "artist_latitude": None,
    "artist_location": "Reykjavík",
    "artist_longitude": None,
    "artist_name": "Sigur Rós",
    "duration": 250.5,
    "num_songs": 1,
    "song_id": "SOXXXXX12AB0180000",
    "title": "Hoppípolla",
    "year": 2005,
}


def event(**changes) -> bytes:
    return json.dumps({**EVENT, **changes}, ensure_ascii=False).encode()


def song(**changes) -> bytes:
    return json.dumps({**SONG, **changes}, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def s3(stack):
    from dev.datagen import LOG_JSON_PATH

    client = stack.s3_client()
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    client.put_object(Bucket=BUCKET, Key="log_json_path.json", Body=LOG_JSON_PATH.encode())
    with warehouse(stack) as conn:
        for path in sorted((staging.config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    return client


@pytest.fixture
def run_id(request, stack, s3) -> str:
    """A run id of this test alone, with no rejects recorded under it yet."""
    name = f"manual__bad-input__{request.node.name}"
    with warehouse(stack) as conn:
        conn.execute("DELETE FROM staging_rejects WHERE run_id = %s", (name,))
    return name


def stage(stack, s3, source, files: dict[str, bytes], run_id: str, window=HOUR, **kwargs):
    """Replace the objects under the source's prefix with ``files``, stage, and return
    (result, staged rows as dicts, rejects as (key, line, reason, raw))."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=source.prefix + "/"):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    for key, body in files.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    with warehouse(stack) as conn:  # a clean slate: rows of other days' files would stay otherwise
        conn.execute(f"TRUNCATE {source.table}")
    result = staging.stage(source, window, run_id=run_id, bucket=BUCKET, force=True, **kwargs)
    with warehouse(stack) as conn:
        cur = conn.execute(f"SELECT * FROM {source.table}")
        rows = [dict(zip([c.name for c in cur.description], r)) for r in cur.fetchall()]
        rejects = conn.execute(
            "SELECT source_key, line_number, reason, raw_text FROM staging_rejects "
            "WHERE run_id = %s AND staging_table = %s ORDER BY source_key, line_number",
            (run_id, source.table),
        ).fetchall()
    # What the result reports is what the tables hold.
    assert (result["rows"], result["rejected"]) == (len(rows), len(rejects))
    return result, rows, rejects


def count_records(content: bytes) -> int:
    """Records in a source file, counted independently of the pipeline: a file that is one
    JSON array is one record (as Redshift's COPY reads it), else each non-blank line is one."""
    text = content.decode("utf-8", "replace").lstrip("\ufeff")
    if text.strip().startswith("["):
        return 1
    return sum(1 for line in text.split("\n") if line.strip())


def assert_rejects(rejects, expected):
    """rejects: (key, line, reason, raw); expected: (line, fragment of the reason)."""
    assert len(rejects) == len(expected), rejects
    for (_, line, reason, _), (want_line, fragment) in zip(rejects, expected):
        assert (line, fragment in reason) == (want_line, True), (line, reason)


def lenient(**kwargs):
    return {"max_reject_fraction": 1.0, **kwargs}


# ----------------------------------------------------------------------------- logs
LOG_CASES = {
    # name: (file content, rows staged, [(line, reason fragment)])
    "malformed JSON line": (event() + b"\n{not json\n" + event(ts=1542288601796), 2, [(2, "malformed JSON")]),
    "truncated last line": (event() + b"\n" + event()[:40], 1, [(2, "malformed JSON")]),
    "empty file": (b"", 0, []),
    "one JSON array": (b"[\n  " + event() + b",\n  " + event(itemInSession=4) + b"\n]", 0, [(1, "a JSON array file")]),
    "empty string in a number field": (event(page="Home", itemInSession="", length=""), 1, []),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + event() + b"\n" + event(itemInSession=4), 2, []),
    "CRLF line ends": (event() + b"\r\n" + event(itemInSession=4) + b"\r\n", 2, []),
    "invalid UTF-8": (
        event() + b"\n" + event(song="café").replace("café".encode(), b"caf\xe9") + b"\n" + event(itemInSession=5),
        2,
        [(2, "invalid UTF-8")],
    ),
    "missing keys": (
        json.dumps({"page": "Home", "ts": 1542288600796, "userId": ""}).encode()
        + b"\n"
        + json.dumps({"page": "NextSong", "ts": 1542288600796}).encode()
        + b"\n"
        + json.dumps({"page": "Home", "userId": "3"}).encode(),
        1,
        [(2, "NextSong event without a userId"), (3, "missing ts")],
    ),
    "extra unknown keys": (event(extra="x", nested={"a": [1]}), 1, []),
    "ts as a string": (
        event(ts="not a time") + b"\n" + event(ts="1542288600796", itemInSession=9),
        1,
        [(1, "ts bigint")],
    ),
    "userId as a number": (event(userId=15), 1, []),
    "userId not a number": (event(userId="abc"), 0, [(1, "userId is not a user number")]),
    "value too long": (event(artist="x" * 600), 0, [(1, "artist character varying(512)")]),
    "value too long in bytes": (event(artist="é" * 300), 0, [(1, "artist character varying(512)")]),
    "value as long as its column in bytes": (event(artist="é" * 256), 1, []),
    "null userId on NextSong": (event(userId=None), 0, [(1, "NextSong event without a userId")]),
    "empty userId on NextSong": (event(userId=""), 0, [(1, "NextSong event without a userId")]),
    "not an object": (b"42\n" + event(), 1, [(1, "not a JSON object but a JSON number")]),
}


@pytest.mark.parametrize("name", LOG_CASES)
def test_log_file_cases(stack, s3, run_id, name):
    content, staged, expected = LOG_CASES[name]
    result, rows, rejects = stage(stack, s3, staging.EVENTS, {DAY: content}, run_id, **lenient())
    # Nothing lost, nothing twice: the file's records, the rows its valid ones make, its rejects.
    assert result["records"] == count_records(content) == staged + len(expected)
    assert (result["rows"], len(rows)) == (staged, staged)
    assert result["rejected"] == len(expected)
    assert_rejects(rejects, expected)
    assert all(key == DAY for key, *_ in rejects)
    assert all(raw for *_, raw in rejects), "the raw text of every reject is kept"


def test_non_ascii_and_types_survive(stack, s3, run_id):
    _, rows, _ = stage(stack, s3, staging.EVENTS, {DAY: event(userId=15, ts="1542288600796")}, run_id)
    (row,) = rows
    assert row["artist"] == "Sigur Rós" and row["song"] == "Hoppípolla"
    assert row["userid"] == "15" and row["ts"] == 1542288600796 and row["registration"] == 1540919166796.0


def test_duplicates_are_staged_as_found(stack, s3, run_id):
    """The same record twice in a file and again in another file: staging keeps what the
    source has (3 rows); the loads collapse them (see test_duplicates_load_once)."""
    files = {DAY: event() + b"\n" + event(), "log_data/2018/11/2018-11-16-events.json": event()}
    result, rows, rejects = stage(stack, s3, staging.EVENTS, files, run_id, window=Window())
    assert (len(rows), len(rejects), result["objects"]) == (3, 0, 2)


def test_duplicates_load_once(stack, s3, run_id):
    import jinja2

    files = {DAY: event() + b"\n" + event(), "log_data/2018/11/2018-11-16-events.json": event()}
    stage(stack, s3, staging.EVENTS, files, run_id, window=Window())
    template = (staging.config.SQL_DIR / "load/songplays.sql").read_text()
    select = jinja2.Template(template).render(run_window=Window.from_run, dag_run=None)  # a full load
    with warehouse(stack) as conn:
        assert conn.execute(f"SELECT COUNT(*), COUNT(DISTINCT songplay_id) FROM ({select}) AS s").fetchone() == (1, 1)


def test_missing_day_file_stages_nothing_with_a_warning(stack, s3, run_id, caplog):
    with caplog.at_level(logging.WARNING):
        result, rows, rejects = stage(
            stack, s3, staging.EVENTS, {"log_data/2018/11/2018-11-16-events.json": event()}, run_id
        )
    assert rows == [] and rejects == [] and result["missing_keys"] == [DAY]
    assert f"No source object s3://{BUCKET}/{DAY} for this window" in caplog.text


def test_over_the_threshold_fails_naming_object_and_line(stack, s3, run_id):
    content = b"\n".join([event(itemInSession=i) for i in range(9)] + [b"{oops"])
    with pytest.raises(staging.StagingError) as failure:
        stage(stack, s3, staging.EVENTS, {DAY: content}, run_id, max_reject_fraction=0.05)
    message = str(failure.value)
    assert f"s3 object {DAY} line 10: malformed JSON" in message
    assert "1 of 10 records rejected (10.00%)" in message and "SPARKIFY_MAX_REJECT_FRACTION" in message
    with warehouse(stack) as conn:  # the rejects stay for inspection, the good rows are staged
        assert conn.execute("SELECT COUNT(*) FROM staging_rejects WHERE run_id = %s", (run_id,)).fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM staging_events").fetchone()[0] == 9


def test_under_the_threshold_warns_and_continues(stack, s3, run_id, caplog):
    content = b"\n".join([event(itemInSession=i) for i in range(9)] + [b"{oops"])
    with caplog.at_level(logging.WARNING):
        _result, rows, rejects = stage(stack, s3, staging.EVENTS, {DAY: content}, run_id, max_reject_fraction=0.2)
    assert len(rows) == 9 and len(rejects) == 1
    assert f"s3 object {DAY} line 10: malformed JSON" in caplog.text


def test_restaging_a_run_never_repeats_rejects(stack, s3, run_id):
    content = event() + b"\n{bad"
    for _ in range(3):
        _, rows, rejects = stage(stack, s3, staging.EVENTS, {DAY: content}, run_id, **lenient())
    assert len(rows) == 1 and len(rejects) == 1


# ----------------------------------------------------------------------------- songs
SONG_KEY = "song_data/A/X/X/TRAXXXX128F1234567.json"
SONG_CASES = {
    "malformed JSON": (b'{"song_id": "SO1", ', 0, [(1, "malformed JSON")]),
    "truncated": (song()[:-10], 0, [(1, "malformed JSON")]),
    "empty file": (b"", 0, []),
    "one JSON array": (
        b"[" + song() + b",\n" + song(song_id="SOYYYYY12AB0180000") + b"]",
        0,
        [(1, "a JSON array file")],
    ),
    "empty string in a number field": (song(year="", duration=""), 1, []),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + song(), 1, []),
    "CRLF": (song() + b"\r\n", 1, []),
    "invalid UTF-8": (song().replace("Reykjavík".encode(), b"Reykjav\xedk"), 0, [(1, "invalid UTF-8")]),
    "missing song_id": (
        json.dumps({k: v for k, v in SONG.items() if k != "song_id"}).encode(),
        0,
        [(1, "missing song_id")],
    ),
    "missing year": (json.dumps({k: v for k, v in SONG.items() if k != "year"}).encode(), 1, []),
    "extra unknown keys": (song(genre="post-rock"), 1, []),
    "title as a number": (song(title=66), 1, []),
    "year as text": (song(year="two thousand"), 0, [(1, "year integer")]),
    "title too long": (song(title="t" * 2000), 0, [(1, "title character varying(1024)")]),
}


@pytest.mark.parametrize("name", SONG_CASES)
def test_song_file_cases(stack, s3, run_id, name):
    content, staged, expected = SONG_CASES[name]
    result, rows, rejects = stage(stack, s3, staging.SONGS, {SONG_KEY: content}, run_id, window=Window(), **lenient())
    assert result["records"] == count_records(content) == staged + len(expected)
    assert (result["rows"], len(rows)) == (staged, staged)
    assert result["rejected"] == len(expected)
    assert_rejects(rejects, expected)
    if name == "title as a number":
        assert rows[0]["title"] == "66"
    if name == "empty string in a number field":  # NULL, as Redshift's COPY loads it
        assert (rows[0]["year"], rows[0]["duration"]) == (None, None)


def test_keys_that_are_not_json_are_ignored_and_reported(stack, s3, run_id, caplog):
    files = {SONG_KEY: song(), "song_data/_SUCCESS": b"", "song_data/A/.DS_Store": b"\x00\x00\x00\x01Bud1"}
    with caplog.at_level(logging.WARNING):
        result, rows, rejects = stage(stack, s3, staging.SONGS, files, run_id, window=Window())
    assert len(rows) == 1 and rejects == []
    assert sorted(result["ignored_keys"]) == ["song_data/A/.DS_Store", "song_data/_SUCCESS"]
    assert "not .json" in caplog.text


def test_duplicate_songs_load_once(stack, s3, run_id):
    files = {SONG_KEY: song(), "song_data/A/Y/Y/TRAYYYY128F1234567.json": song()}
    _, rows, _ = stage(stack, s3, staging.SONGS, files, run_id, window=Window())
    assert len(rows) == 2
    with warehouse(stack) as conn:
        select = (staging.config.SQL_DIR / "load/songs.sql").read_text()
        assert conn.execute(f"SELECT COUNT(*) FROM ({select}) AS s").fetchone()[0] == 1


def test_an_hourly_load_replaces_only_its_day_file(stack, s3, run_id):
    """Runs of different days stage side by side: staging day 16 keeps day 15's rows, and
    restaging day 15 replaces them instead of adding a second copy."""
    day16 = "log_data/2018/11/2018-11-16-events.json"
    files = {DAY: event() + b"\n" + event(itemInSession=4), day16: event(ts=1542375000796)}
    stage(stack, s3, staging.EVENTS, files, run_id)  # the hour of day 15
    staging.stage(
        staging.EVENTS,
        Window(datetime(2018, 11, 16, 13, tzinfo=UTC), datetime(2018, 11, 16, 14, tzinfo=UTC)),
        run_id=run_id,
        bucket=BUCKET,
    )
    staging.stage(staging.EVENTS, HOUR, run_id=run_id, bucket=BUCKET)
    with warehouse(stack) as conn:
        by_key = dict(conn.execute("SELECT source_key, COUNT(*) FROM staging_events GROUP BY 1").fetchall())
    assert by_key == {DAY: 2, day16: 1}


def test_log_keys_that_are_not_json_are_ignored_in_a_full_load(stack, s3, run_id, caplog):
    files = {DAY: event(), "log_data/_SUCCESS": b"", "log_data/2018/.DS_Store": b"\x00\x00\x00\x01Bud1"}
    with caplog.at_level(logging.WARNING):
        result, rows, rejects = stage(stack, s3, staging.EVENTS, files, run_id, window=Window())
    assert len(rows) == 1 and rejects == []
    assert sorted(result["ignored_keys"]) == ["log_data/2018/.DS_Store", "log_data/_SUCCESS"]
