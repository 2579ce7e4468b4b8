"""Monitoring without a scheduler: a failed data-quality check is recorded in dq_history and
e-mailed for real (to an SMTP server started here) through the task's failure callback;
with no channel configured an alert is a log line and no error; the lateness deadline is on
the DAG with the configured interval, and its callback e-mails when invoked; the report
`make run` prints shows the data-quality history and the daily listening figures."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest

from dev.stack import free_port
from include.sparkify import config
from tests.conftest import warehouse

CHECK_TASK = "Run_data_quality_checks.relational_checks"
FIGURE = "songplays of the run: 0, NextSong events in staging: {staged}, outside the window: 0"
PLAY_HOUR_END = datetime(2018, 11, 15, 11, tzinfo=UTC)  # the run of 10:00-11:00, the hour of the staged plays


class Inbox:
    """aiosmtpd handler keeping every message delivered to it."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.content, policy=policy.default),
                )
            )
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(monkeypatch):
    """A real SMTP server on a free loopback port, and the environment that points alerts at it."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {
                    "disable_ssl": True,
                    "disable_tls": True,
                    "from_email": "airflow@sparkify.test",
                    "timeout": 10,
                },
            }
        ),
    )
    monkeypatch.setenv("SPARKIFY_ALERT_EMAILS", "data-ops@sparkify.test")
    monkeypatch.delenv("AIRFLOW_CONN_SLACK_API_DEFAULT", raising=False)
    yield inbox
    controller.stop()


def body_text(message) -> str:
    part = message.get_body(preferencelist=("html", "plain"))
    return part.get_content() if part is not None else message.get_payload()


@pytest.fixture
def schema(stack):
    with warehouse(stack) as conn:
        for path in sorted((config.SQL_DIR / "ddl").glob("*.sql")):
            conn.execute(path.read_text())
    return stack


def failing_check_dag(task_ids: tuple[str, ...] = (CHECK_TASK,)):
    """The real final_project, cut down to some of its check tasks (the relational checks by
    default), its relational checks to the window reconciliation (songplays_match_staging),
    with no retries."""
    from airflow.dag_processing.dagbag import DagBag

    from include.sparkify.check_operators import RelationalChecks

    dag = DagBag().dags["final_project"].partial_subset(task_ids=list(task_ids), include_upstream=False)
    for task in dag.tasks:
        task.retries = 0
        if isinstance(task, RelationalChecks):
            task.checks = {"songplays_match_staging": task.checks["songplays_match_staging"]}
            task.sql = ["checks/songplays_match_staging.sql"]
    return dag


def stage_plays(stack, plays: int) -> None:
    """staging_events holding ``plays`` NextSong events (of user 15), which no run has loaded
    into its audit rows: the window reconciliation of a full-load run fails while plays > 0.
    songplays holds one published play."""
    with warehouse(stack) as conn:
        conn.execute("TRUNCATE staging_events, songplays")
        conn.execute(
            "INSERT INTO songplays (songplay_id, start_time, user_id) "
            "VALUES ('probe-monitoring-play', TIMESTAMP '2018-11-15 10:00:00', 15)"
        )
        for item in range(plays):
            conn.execute(
                "INSERT INTO staging_events (page, userid, sessionid, iteminsession, ts, level) "
                "VALUES ('NextSong', '15', 1, %s, 1542276000000, 'free')",
                (item,),
            )


def test_failed_check_is_recorded_and_emailed_once(airflow_db, schema, smtp_server):
    from dev.dagtest import run_dag_test

    stage_plays(schema, 1)
    dag = failing_check_dag()
    assert [t.task_id for t in dag.tasks] == [CHECK_TASK]
    dr = run_dag_test(dag, PLAY_HOUR_END)
    assert dr.state == "failed"
    figure = FIGURE.format(staged=1)

    # Exactly one e-mail, to the configured recipient, naming DAG, run, task and the failed check.
    assert len(smtp_server.messages) == 1, [m[2]["Subject"] for m in smtp_server.messages]
    mail_from, rcpt, message = smtp_server.messages[0]
    assert mail_from == "airflow@sparkify.test" and rcpt == ["data-ops@sparkify.test"]
    subject, body = message["Subject"], body_text(message)
    assert "final_project" in subject and CHECK_TASK in subject and dr.run_id in subject and "failed" in subject
    for needle in (
        "final_project",
        dr.run_id,
        CHECK_TASK,
        "the run&#x27;s songplays equal the distinct NextSong",
        figure,
    ):
        assert needle in body, needle
    from dev.stack import AWS_KEY_ID, AWS_SECRET, PG_PASSWORD

    for secret in (schema.etl_password(), PG_PASSWORD, AWS_SECRET, AWS_KEY_ID):  # the connections' secrets
        assert secret not in subject and secret not in message.as_string()

    # The failed check is in the history, with the value found, before the task failed.
    with warehouse(schema) as conn:
        rows = conn.execute(
            "SELECT dag_id, task_id, try_number, check_name, table_name, observed_value, passed, "
            "interval_start FROM dq_history WHERE run_id = %s",
            (dr.run_id,),
        ).fetchall()
    start = dr.data_interval_start and dr.data_interval_start.astimezone(UTC).replace(tzinfo=None)
    assert rows == [("final_project", CHECK_TASK, 1, "songplays_match_staging", "songplays", figure, False, start)]


def test_no_channel_configured_logs_a_clear_line_and_raises_nothing(monkeypatch, caplog):
    from include.sparkify.alerts import ON_FAILURE

    for name in ("SPARKIFY_ALERT_EMAILS", "AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_SLACK_API_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    ti = SimpleNamespace(
        dag_id="final_project",
        task_id="Load_user_dim_table",
        run_id="scheduled__2018-11-01T01",
        try_number=4,
        log_url=None,
    )
    context = {
        "ti": ti,
        "dag_run": SimpleNamespace(data_interval_start=None, data_interval_end=None),
        "exception": RuntimeError("connection refused"),
    }
    with caplog.at_level(logging.WARNING, logger="include.sparkify.alerts"):
        ON_FAILURE(context)  # as Airflow calls a notifier: no exception
    lines = [r.getMessage() for r in caplog.records if r.name == "include.sparkify.alerts"]
    assert len(lines) == 1
    assert lines[0].startswith("No alert channel is configured")
    assert "'smtp_default'" in lines[0] and "'slack_api_default'" in lines[0]
    assert "final_project.Load_user_dim_table failed (run scheduled__2018-11-01T01)" in lines[0]


def test_recipients_without_an_smtp_connection_are_not_an_error(monkeypatch, caplog):
    """E-mail needs both: recipients alone (no SMTP connection) log the same clear line."""
    from include.sparkify.alerts import Alert, send

    monkeypatch.setenv("SPARKIFY_ALERT_EMAILS", "data-ops@sparkify.test")
    monkeypatch.setenv("SPARKIFY_SMTP_CONN_ID", "sparkify_smtp_that_does_not_exist")
    with caplog.at_level(logging.WARNING, logger="include.sparkify.alerts"):
        assert send(Alert("probe subject", []), {}) == []
    assert any(
        "No alert channel is configured" in r.getMessage() and "probe subject" in r.getMessage() for r in caplog.records
    )


def test_final_project_carries_the_lateness_deadline():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import AsyncCallback, DeadlineReference

    from include.sparkify.alerts import alert_late_run

    (deadline,) = DagBag().dags["final_project"].deadline
    assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert deadline.interval == timedelta(minutes=config.RUN_DEADLINE_MINUTES)
    assert isinstance(deadline.callback, AsyncCallback)
    assert deadline.callback.path == "include.sparkify.alerts.alert_late_run"
    assert deadline.callback.kwargs == {"allowed_minutes": config.RUN_DEADLINE_MINUTES}
    assert asyncio.iscoroutinefunction(alert_late_run)


def test_deadline_interval_is_configurable(monkeypatch):
    """SPARKIFY_RUN_DEADLINE_MINUTES sets the interval (read when the DAG file is parsed)."""
    import subprocess
    import sys

    code = (
        "from airflow.dag_processing.dagbag import DagBag; "
        "d = DagBag('dags').dags['final_project'].deadline[0]; print(d.interval.total_seconds())"
    )
    env = {**__import__("os").environ, "SPARKIFY_RUN_DEADLINE_MINUTES": "7.5"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=config.SQL_DIR.parents[1]
    )
    assert out.stdout.strip().splitlines()[-1] == "450.0"


def test_late_run_callback_emails_the_run(smtp_server):
    """The deadline callback as the triggerer calls it (with the scheduler's context) delivers one e-mail."""
    from include.sparkify.alerts import alert_late_run

    queued = datetime(2018, 11, 2, 5, 0, 3, tzinfo=UTC)
    context = {
        "dag_run": {
            "dag_id": "final_project",
            "dag_run_id": "scheduled__2018-11-02T05:00:00+00:00",
            "run_type": "scheduled",
            "state": "running",
            "queued_at": queued.isoformat(),
            "data_interval_start": "2018-11-02T04:00:00+00:00",
            "data_interval_end": "2018-11-02T05:00:00+00:00",
        },
        "deadline": {"id": "0190-probe", "deadline_time": queued + timedelta(minutes=45)},
    }
    summary = asyncio.run(alert_late_run(allowed_minutes=45, context=context))
    assert "e-mail to data-ops@sparkify.test" in summary
    assert len(smtp_server.messages) == 1
    _, _, message = smtp_server.messages[0]
    assert message["Subject"] == (
        "[Sparkify] final_project run scheduled__2018-11-02T05:00:00+00:00 is late: "
        "not finished 45 min after it was queued"
    )
    body = body_text(message)
    assert "2018-11-02 05:45:03+00:00" in body and "scheduled" in body and "2018-11-02T04:00:00+00:00" in body


def minutes_between(start: datetime, end: datetime) -> set[str]:
    """Every minute from start to end, as the report prints a time."""
    minute = start.replace(second=0, microsecond=0)
    out = set()
    while minute <= end:
        out.add(f"{minute:%Y-%m-%d %H:%M}")
        minute += timedelta(minutes=1)
    return out


def test_make_run_report_shows_the_dq_history(airflow_db, schema, monkeypatch):
    """The report's data-quality section, from the dq_history of two runs of songplays' row count
    and window reconciliation: the first with a staged play no run loaded (the reconciliation
    fails), the second without."""
    from dev.dagtest import run_dag_test
    from dev.report import dq_history_lines

    for name in ("SPARKIFY_ALERT_EMAILS", "AIRFLOW_CONN_SMTP_DEFAULT", "AIRFLOW_CONN_SLACK_API_DEFAULT"):
        monkeypatch.delenv(name, raising=False)
    with warehouse(schema) as conn:
        conn.execute("TRUNCATE dq_history, users, songs, artists, time")
        # one published row in each table: the "not empty" checks pass (songplays: stage_plays)
        conn.execute("INSERT INTO users (user_id, last_seen_at) VALUES (15, TIMESTAMP '2018-11-15 10:00:00')")
        conn.execute("INSERT INTO songs (song_id) VALUES ('SOPROBE')")
        conn.execute("INSERT INTO artists (artist_id) VALUES ('ARPROBE')")
        conn.execute(
            "INSERT INTO time (start_time, hour, day, week, month, year, weekday) "
            "VALUES (TIMESTAMP '2018-11-15 10:00:00', 10, 15, 46, 11, 2018, 4)"
        )
    assert dq_history_lines(schema.warehouse_dsn()) == ["  (no results recorded yet)"]

    dag = failing_check_dag(("Run_data_quality_checks.tables_not_empty", CHECK_TASK))
    stage_plays(schema, 1)
    first_start = datetime.now(UTC).replace(tzinfo=None)
    try:
        first = run_dag_test(dag, PLAY_HOUR_END)
    finally:
        first_end = datetime.now(UTC).replace(tzinfo=None)
        stage_plays(schema, 0)
    second = run_dag_test(dag, PLAY_HOUR_END)
    assert (first.state, second.state) == ("failed", "success")

    lines = dq_history_lines(schema.warehouse_dsn())
    # Ordered by table, then check: each table's "not empty" passed twice (its latest value: 1,
    # true); songplays' reconciliation failed once then passed, so it is FAIL, with when it
    # last failed.
    not_empty = {
        table: f"  PASS  {table:<15} {table + '_not_empty':<28}    2 results,    2 passed,   0 failed; "
        "latest: 1 (all truthy)"
        for table in ("artists", "songplays", "songs", "time", "users")
    }
    assert lines[0] == not_empty["artists"] and lines[2] == not_empty["songplays"], lines
    assert lines[3:] == [not_empty["songs"], not_empty["time"], not_empty["users"]], lines
    prefix = (
        f"  FAIL  songplays       {'songplays_match_staging':<28}    2 results,    1 passed,   1 failed; "
        f"latest: {FIGURE.format(staged=0)[:60]} (all truthy), last failed "
    )
    assert lines[1].startswith(prefix), lines[1]
    assert lines[1][len(prefix) :] in minutes_between(first_start, first_end), lines[1]
    assert len(lines) == 6, lines


# Songs and NextSong events for the daily listening section: three days; user 1 turns paid
# on the second day; "Nowhere" is in no catalog (counted in the totals, never on top).
SONGS = [
    {
        "song_id": "SOAAAAA12A8C100001",
        "title": "Alpha",
        "artist_id": "ARAAAAA1187B9A0001",
        "artist_name": "Ann",
        "duration": 200.0,
    },
    {
        "song_id": "SOBBBBB12A8C100002",
        "title": "Beta",
        "artist_id": "ARBBBBB1187B9A0002",
        "artist_name": "Bob",
        "duration": 180.0,
    },
    {
        "song_id": "SOCCCCC12A8C100003",
        "title": "Gamma",
        "artist_id": "ARAAAAA1187B9A0001",
        "artist_name": "Ann",
        "duration": 150.0,
    },
]
PLAYS = [  # (user, level, UTC time, title)
    (1, "free", "2018-11-14 10:00", "Alpha"),
    (1, "free", "2018-11-14 10:05", "Beta"),
    (2, "paid", "2018-11-14 11:00", "Beta"),
    (2, "paid", "2018-11-14 11:05", "Nowhere"),
    (1, "paid", "2018-11-15 09:00", "Alpha"),
    (1, "paid", "2018-11-15 09:04", "Gamma"),
    (3, "free", "2018-11-15 12:00", "Beta"),
    (3, "free", "2018-11-16 08:00", "Nowhere"),
]


def listening_data() -> tuple[list[dict], list[dict]]:
    """(events, songs) in the shape of the JSON files."""
    songs = [
        {**s, "year": 2000, "num_songs": 1, "artist_location": None, "artist_latitude": None, "artist_longitude": None}
        for s in SONGS
    ]
    by_title = {s["title"]: s for s in SONGS}
    events = []
    for item, (user, level, when, title) in enumerate(PLAYS):
        song = by_title.get(title, {"artist_name": "Nobody", "duration": 100.0})
        ts = int(datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp() * 1000)
        events.append(
            {
                "artist": song["artist_name"],
                "song": title,
                "length": song["duration"],
                "page": "NextSong",
                "userId": str(user),
                "level": level,
                "sessionId": user,
                "itemInSession": item,
                "ts": ts,
                "firstName": f"User{user}",
                "lastName": "Probe",
                "gender": "F",
                "location": "Chicago, IL",
                "userAgent": "Mozilla/5.0",
            }
        )
    return events, songs


def rollup_sql(partition_key: str | None) -> str:
    """include/sql/analytics/daily_listening.sql rendered for a run of that partition key."""
    import jinja2

    from include.sparkify.window import Window

    text = (config.SQL_DIR / "analytics/daily_listening.sql").read_text()
    return jinja2.Template(text).render(
        rollup_window=Window.for_rollup, dag_run=SimpleNamespace(partition_key=partition_key)
    )


def test_make_run_report_shows_the_daily_listening(schema):
    """The report's daily listening section: daily_listening built from a star schema holding
    the plays above, and its lines, newest day first."""
    from dev.report import daily_listening_lines
    from tests import expected as ex

    events, songs = listening_data()
    with warehouse(schema) as conn:
        conn.execute("TRUNCATE songplays, users, songs, artists, daily_listening")
    assert daily_listening_lines(schema.warehouse_dsn()) == [
        "  (not built yet: sparkify_analytics builds a day once all its 24 hours are published)"
    ]

    star = {
        ("songplays", "songplay_id"): ex.songplays(events, songs),
        ("users", "user_id"): ex.users(events),
        ("songs", "song_id"): ex.songs_table(songs),
        ("artists", "artist_id"): ex.artists_table(songs),
    }
    with warehouse(schema) as conn:
        for (table, key), rows in star.items():
            columns = [key, *next(iter(rows.values()))]
            values = ", ".join(["%s"] * len(columns))
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})",
                    [(k, *(row[c] for c in columns[1:])) for k, row in rows.items()],
                )
        # What Build_daily_listening runs (include/sparkify/analytics.py): first for one day's
        # partition (that day's row only), then without a partition key (every day).
        conn.execute("INSERT INTO daily_listening " + rollup_sql("2018-11-15"))
        assert [r[0] for r in conn.execute("SELECT play_date FROM daily_listening")] == [date(2018, 11, 15)]
        conn.execute("DELETE FROM daily_listening")
        conn.execute("INSERT INTO daily_listening " + rollup_sql(None))
        built = conn.execute(
            "SELECT play_date, plays, listeners, paid_plays, free_plays, paid_share, "
            "paid_listeners_now, top_song_id, top_song_title, top_song_plays, top_artist_id, "
            "top_artist_name, top_artist_plays FROM daily_listening"
        ).fetchall()
    assert {r[0]: tuple(r[1:]) for r in built} == ex.daily_listening(events, songs)

    # Per day: plays, listeners, the paid share of plays, the top song and artist (ties: smallest id).
    assert daily_listening_lines(schema.warehouse_dsn()) == [
        "  2018-11-16       1 plays     1 listeners  paid 0%  top song: -  top artist: -",
        "  2018-11-15       3 plays     2 listeners  paid 67%  top song: Alpha  top artist: Ann",
        "  2018-11-14       4 plays     2 listeners  paid 50%  top song: Beta  top artist: Bob",
    ]


def test_slack_connection_gets_the_alert(monkeypatch):
    """With a Slack connection (here pointed at a local server speaking Slack's Web API), the
    alert is posted to the channel by SlackNotifier."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from include.sparkify.alerts import ON_FAILURE

    posts = []

    class SlackAPI(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            posts.append((self.path, self.headers.get("Authorization"), json.loads(body)))
            reply = json.dumps({"ok": True, "channel": "C1", "ts": "1.0"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), SlackAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("SPARKIFY_ALERT_EMAILS", raising=False)
        monkeypatch.setenv("SPARKIFY_SLACK_CHANNEL", "#sparkify-probe")
        monkeypatch.setenv(
            "AIRFLOW_CONN_SLACK_API_DEFAULT",
            json.dumps(
                {
                    "conn_type": "slack",
                    "password": "xoxb-probe-token",
                    "extra": {"base_url": f"http://127.0.0.1:{server.server_port}/api/"},
                }
            ),
        )
        ti = SimpleNamespace(
            dag_id="final_project",
            task_id="Stage_events",
            run_id="scheduled__2018-11-01T05",
            try_number=2,
            log_url=None,
        )
        # Airflow registers a connection's password with its secrets masker when a task reads
        # the connection; an error text quoting it must not carry it into the alert.
        from airflow.sdk._shared.secrets_masker import mask_secret

        secret = "warehouse-pw-in-an-error-4242"
        mask_secret(secret)
        ON_FAILURE(
            {
                "ti": ti,
                "dag_run": SimpleNamespace(data_interval_start=None, data_interval_end=None),
                "exception": RuntimeError(f"S3 unreachable; retried with postgresql://u:{secret}@db/x"),
            }
        )
    finally:
        server.shutdown()
    assert len(posts) == 1
    path, auth, payload = posts[0]
    assert path == "/api/chat.postMessage" and auth == "Bearer xoxb-probe-token"
    assert payload["channel"] == "#sparkify-probe"
    assert payload["text"].startswith("[Sparkify] final_project.Stage_events failed (run scheduled__2018-11-01T05)")
    assert "RuntimeError: S3 unreachable" in payload["text"]
    assert secret not in json.dumps(payload) and "postgresql://u:***@db/x" in payload["text"]
