"""The alerts' messages (include/sparkify/alerts.py), built from stand-in callback contexts,
and which channels an alert goes to, with the connection look-ups replaced."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from include.sparkify import alerts
from include.sparkify.alerts import ON_FAILURE, ON_RETRY, Alert, TaskAlert, late_run_alert, task_alert


def task_context(**overrides) -> dict:
    ti = SimpleNamespace(
        dag_id="final_project",
        task_id="Load_user_dim_table",
        run_id="scheduled__2018-11-01T14:00:00+00:00",
        try_number=2,
        log_url="http://airflow.test/log?try=2",
    )
    dag_run = SimpleNamespace(
        data_interval_start=datetime(2018, 11, 1, 13, tzinfo=UTC),
        data_interval_end=datetime(2018, 11, 1, 14, tzinfo=UTC),
    )
    return {"ti": ti, "dag_run": dag_run, "exception": ValueError("duplicate key user_id=42"), **overrides}


def test_a_failed_task_names_dag_run_task_try_interval_error_and_log():
    alert = task_alert(task_context(), "failed")
    assert (
        alert.subject
        == "[Sparkify] final_project.Load_user_dim_table failed (run scheduled__2018-11-01T14:00:00+00:00)"
    )
    assert alert.lines == [
        ("DAG", "final_project"),
        ("Run", "scheduled__2018-11-01T14:00:00+00:00"),
        ("Task", "Load_user_dim_table"),
        ("Try", "2"),
        ("Data interval", "2018-11-01 13:00:00+00:00 to 2018-11-01 14:00:00+00:00"),
        ("Error", "ValueError: duplicate key user_id=42"),
        ("Log", "http://airflow.test/log?try=2"),
    ]


def test_a_retried_full_load_without_error_or_log_url():
    ti = SimpleNamespace(dag_id="final_project", task_id="Stage_events", run_id="manual__1", try_number=1)
    context = {"task_instance": ti, "dag_run": SimpleNamespace(data_interval_start=None, data_interval_end=None)}
    alert = task_alert(context, "up for retry")
    assert alert.subject == "[Sparkify] final_project.Stage_events up for retry (run manual__1)"
    assert dict(alert.lines)["Data interval"] == "none (a full load)"
    assert "Error" not in dict(alert.lines) and "Log" not in dict(alert.lines)


def test_an_error_given_as_text_and_a_context_without_task_instance():
    context = {"dag": SimpleNamespace(dag_id="create_tables"), "run_id": "manual__2", "exception": "boom"}
    alert = task_alert(context, "failed")
    assert alert.subject == "[Sparkify] create_tables.? failed (run manual__2)"
    assert dict(alert.lines)["Error"] == "boom" and dict(alert.lines)["Try"] == "?"


def test_a_secret_quoted_in_the_error_is_masked():
    from airflow.sdk.log import mask_secret

    secret = "unit-alert-secret-7f3a"
    mask_secret(secret)
    context = task_context(exception=RuntimeError(f"cannot connect to postgresql://u:{secret}@db/x"))
    error = dict(task_alert(context, "failed").lines)["Error"]
    assert secret not in error and error == "RuntimeError: cannot connect to postgresql://u:***@db/x"


def test_text_and_html_carry_every_line_and_escape_html():
    alert = Alert("[Sparkify] a <b> & c", [("Error", "x < y & z"), ("Try", "3")])
    assert alert.text() == "[Sparkify] a <b> & c\n\nError: x < y & z\nTry: 3"
    page = alert.html()
    assert "<b>[Sparkify] a &lt;b&gt; &amp; c</b>" in page
    assert "x &lt; y &amp; z" in page and "<th align='left' valign='top'>Try</th>" in page
    assert "<b> &" not in page


def test_the_callbacks_compare_by_event():
    assert ON_FAILURE == TaskAlert("failed") and ON_RETRY == TaskAlert("up for retry")
    assert ON_FAILURE != ON_RETRY and hash(ON_FAILURE) == hash(TaskAlert("failed"))
    assert {ON_FAILURE, TaskAlert("failed"), ON_RETRY} == {ON_FAILURE, ON_RETRY}


def test_a_late_run_names_the_run_and_its_deadline():
    context = {
        "dag_run": {
            "dag_id": "final_project",
            "dag_run_id": "scheduled__2018-11-01T14:00:00+00:00",
            "run_type": "scheduled",
            "state": "running",
            "queued_at": "2018-11-01T14:00:05+00:00",
            "data_interval_start": "2018-11-01T13:00:00+00:00",
            "data_interval_end": "2018-11-01T14:00:00+00:00",
        },
        "deadline": {"deadline_time": "2018-11-01T14:45:05+00:00"},
    }
    alert = late_run_alert(context, 45.0)
    assert alert.subject == (
        "[Sparkify] final_project run scheduled__2018-11-01T14:00:00+00:00 is late: "
        "not finished 45 min after it was queued"
    )
    assert dict(alert.lines) == {
        "DAG": "final_project",
        "Run": "scheduled__2018-11-01T14:00:00+00:00",
        "Run type": "scheduled",
        "State": "running",
        "Queued at": "2018-11-01T14:00:05+00:00",
        "Deadline": "2018-11-01T14:45:05+00:00",
        "Data interval": "2018-11-01T13:00:00+00:00 to 2018-11-01T14:00:00+00:00",
    }
    assert "0.5 min" in late_run_alert({}, 0.5).subject
    assert dict(late_run_alert({}, 1).lines)["Data interval"] == "none (a full load)"


# ---------------------------------------------------------------- channels
@pytest.fixture
def no_connections(monkeypatch):
    """Connection look-ups answered from a dict instead of Airflow."""
    found: dict[str, object] = {}
    monkeypatch.setattr(alerts, "_exists", found.get)

    async def aexists(conn_id):
        return found.get(conn_id)

    monkeypatch.setattr(alerts, "_aexists", aexists)
    for name in ("SPARKIFY_ALERT_EMAILS", "SPARKIFY_SMTP_CONN_ID", "SPARKIFY_SLACK_CONN_ID", "SPARKIFY_SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    return found


def test_without_a_channel_an_alert_is_one_warning_line(no_connections, caplog):
    with caplog.at_level(logging.WARNING, logger=alerts.__name__):
        assert alerts.send(Alert("subject one", []), {}) == []
    [record] = [r for r in caplog.records if r.name == alerts.__name__]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "No alert channel is configured (set SPARKIFY_ALERT_EMAILS and the 'smtp_default' connection for e-mail, "
        "or the 'slack_api_default' connection for Slack): alert not sent: subject one"
    )


def test_the_late_run_callback_without_a_channel(no_connections):
    result = asyncio.run(alerts.alert_late_run(30, {"dag_run": {"dag_id": "final_project", "dag_run_id": "r1"}}))
    assert result == (
        "[Sparkify] final_project run r1 is late: not finished 30 min after it was queued -> "
        "no alert channel configured (logged only)"
    )


def test_each_configured_channel_gets_the_alert(no_connections, monkeypatch, caplog):
    sent = []

    class Notifier:
        def __init__(self, channel):
            self.channel = channel

        def notify(self, context):
            sent.append((self.channel, context))

    monkeypatch.setattr(alerts, "_smtp_notifier", lambda settings, alert, conn: Notifier(("smtp", settings.emails)))
    monkeypatch.setattr(alerts, "_slack_notifier", lambda settings, alert: Notifier(("slack", settings.slack_channel)))
    monkeypatch.setenv("SPARKIFY_ALERT_EMAILS", "a@sparkify.test, b@sparkify.test")
    monkeypatch.setenv("SPARKIFY_SLACK_CHANNEL", "#ops")

    # Recipients alone are not a channel: e-mail needs the SMTP connection too.
    no_connections["slack_api_default"] = object()
    assert alerts.send(Alert("s", []), {"k": 1}) == ["Slack #ops"]
    no_connections["smtp_default"] = object()
    assert alerts.send(Alert("s", []), {"k": 2}) == ["e-mail to a@sparkify.test, b@sparkify.test", "Slack #ops"]
    assert sent == [
        (("slack", "#ops"), {"k": 1}),
        (("smtp", ["a@sparkify.test", "b@sparkify.test"]), {"k": 2}),
        (("slack", "#ops"), {"k": 2}),
    ]


# ---------------------------------------------------------------- untrusted values, escaped per channel
# An S3 key, a record quoted in an error or a run id can hold anything: Slack's link, mention
# and date syntax, HTML, line breaks, Jinja.
HOSTILE_KEY = "log_data/<!channel> <http://evil.test|click> a&b {{ conn.redshift.password }}.json"


def hostile_alert() -> Alert:
    context = task_context(exception=RuntimeError(f"cannot read s3://sparkify/{HOSTILE_KEY} <script>x</script>"))
    context["ti"].run_id = "manual__x\r\nBcc: victim@evil.test <b>"
    return task_alert(context, "failed")


def test_the_slack_text_escapes_amp_lt_gt_in_every_value():
    assert alerts.mrkdwn_escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"
    text = hostile_alert().slack()
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt; &lt;http://evil.test|click&gt; a&amp;b" in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text
    assert "{{ conn.redshift.password }}" in text  # literal: never rendered


def test_the_notifiers_get_escaped_values(monkeypatch):
    from include.sparkify.config import AlertSettings

    monkeypatch.setenv("SPARKIFY_ALERT_EMAILS", "ops@sparkify.test")
    settings = AlertSettings.from_env()
    alert = hostile_alert()
    slack = alerts._slack_notifier(settings, alert)
    assert slack.text == alert.slack() and not slack.unfurl_links and not slack.unfurl_media
    smtp = alerts._smtp_notifier(settings, alert, SimpleNamespace(extra_dejson={}))
    assert "\r" not in smtp.subject and "\n" not in smtp.subject
    assert smtp.subject.startswith("[Sparkify] final_project.Load_user_dim_table failed (run manual__x Bcc:")
    assert smtp.html_content == alert.html()
    for raw in ("<script>", "<!channel>", "<http://evil.test", "a&b", "test <b>"):
        assert raw not in smtp.html_content
    for escaped in ("&lt;script&gt;", "&lt;!channel&gt;", "a&amp;b", "test &lt;b&gt;"):
        assert escaped in smtp.html_content


def test_the_slack_notifier_sends_the_text_as_given_without_rendering_it():
    sent = []
    notifier = alerts._slack_notifier(alerts.AlertSettings.from_env(), hostile_alert())
    notifier.__dict__["hook"] = SimpleNamespace(call=lambda method, json: sent.append((method, json)))
    notifier.notify({"conn": SimpleNamespace(redshift=SimpleNamespace(password="leaked"))})
    [(method, payload)] = sent
    assert method == "chat.postMessage" and payload["text"] == hostile_alert().slack()
    assert "leaked" not in payload["text"] and payload["unfurl_links"] is False
