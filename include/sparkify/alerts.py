"""Alerts for operators: a task that fails (or is retried), and a run that is late.

Both go through Airflow's notifiers: ``SmtpNotifier`` (apache-airflow-providers-smtp)
when recipients are configured and the SMTP connection exists, ``SlackNotifier``
(apache-airflow-providers-slack) when the Slack connection exists. Which channels exist is
decided when an alert fires (``config.AlertSettings``), never at parse time. With no
channel configured an alert is one clear WARNING line in the log, and no error.

* ``TaskAlert`` is the tasks' ``on_failure_callback`` / ``on_retry_callback``: it runs in
  the task's process, so it names the DAG, the run, the task and the error, which for a
  data-quality task names the failed check.
* ``alert_late_run`` is the callback of the DAG's ``DeadlineAlert``: the scheduler notices
  the missed deadline and the triggerer awaits this coroutine.

Every value in an alert (an error text quoting an S3 key or a record, a run id) is untrusted:
it is escaped for the channel it goes to (HTML for the e-mail body, Slack's ``&``, ``<``,
``>`` for Slack's mrkdwn, one line for the e-mail subject), and the notifiers are called
with their ``notify`` alone, which never renders their fields as Jinja templates.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from airflow.sdk import BaseNotifier
from airflow.sdk._shared.secrets_masker import redact

from include.sparkify.config import AlertSettings

log = logging.getLogger(__name__)

NO_CHANNEL = (
    "No alert channel is configured (set SPARKIFY_ALERT_EMAILS and the {smtp!r} connection for e-mail, "
    "or the {slack!r} connection for Slack): alert not sent: {subject}"
)


def mrkdwn_escape(value: object) -> str:
    """A value as literal text in Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped
    (https://api.slack.com/reference/surfaces/formatting#escaping), so that no value can
    open a link (``<http://x|text>``), a mention (``<!channel>``, ``<@U123>``) or a date."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def one_line(value: object) -> str:
    """A value fit for one header line (the e-mail subject): line breaks and other control
    characters become a space, so a value can neither add a header nor end the headers."""
    return _CONTROL.sub(" ", str(value)).strip()


@dataclass(frozen=True)
class Alert:
    subject: str
    lines: list[tuple[str, str]]  # (label, value), in order

    def text(self) -> str:
        return "\n".join([self.subject, ""] + [f"{label}: {value}" for label, value in self.lines])

    def slack(self) -> str:
        """``text()`` for Slack's mrkdwn: every part escaped."""
        return "\n".join(
            [mrkdwn_escape(self.subject), ""]
            + [f"{mrkdwn_escape(label)}: {mrkdwn_escape(value)}" for label, value in self.lines]
        )

    def html(self) -> str:
        rows = "".join(
            f"<tr><th align='left' valign='top'>{html.escape(label)}</th>"
            f"<td><pre style='margin:0;white-space:pre-wrap'>{html.escape(str(value))}</pre></td></tr>"
            for label, value in self.lines
        )
        return f"<p><b>{html.escape(self.subject)}</b></p><table>{rows}</table>"


# --------------------------------------------------------------------------- channels
def _smtp_notifier(settings: AlertSettings, alert: Alert, smtp_conn):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from_email = settings.from_email or smtp_conn.extra_dejson.get("from_email") or "sparkify-airflow@localhost"
    return SmtpNotifier(
        to=settings.emails,
        from_email=from_email,
        subject=one_line(alert.subject),
        html_content=alert.html(),
        smtp_conn_id=settings.smtp_conn_id,
    )


def _slack_notifier(settings: AlertSettings, alert: Alert):
    from airflow.providers.slack.notifications.slack import SlackNotifier

    return SlackNotifier(
        slack_conn_id=settings.slack_conn_id,
        channel=settings.slack_channel,
        text=alert.slack(),
        username="Sparkify Airflow",
        # No preview fetched from a link an error text may quote.
        unfurl_links=False,
        unfurl_media=False,
    )


def _exists(conn_id: str) -> object | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


async def _aexists(conn_id: str) -> object | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return await BaseHook.aget_connection(conn_id)
    except AirflowNotFoundException:
        return None


def send(alert: Alert, context: dict) -> list[str]:
    """Send ``alert`` on every configured channel; returns the channels used (none: a log line)."""
    settings = AlertSettings.from_env()
    sent = []
    smtp_conn = _exists(settings.smtp_conn_id) if settings.emails else None
    if smtp_conn is not None:
        _smtp_notifier(settings, alert, smtp_conn).notify(context)
        sent.append(f"e-mail to {', '.join(settings.emails)}")
    if _exists(settings.slack_conn_id) is not None:
        _slack_notifier(settings, alert).notify(context)
        sent.append(f"Slack {settings.slack_channel}")
    _log_sent(settings, alert, sent)
    return sent


async def asend(alert: Alert, context: dict) -> list[str]:
    """``send`` for the triggerer (deadline callbacks are coroutines)."""
    settings = AlertSettings.from_env()
    sent = []
    smtp_conn = await _aexists(settings.smtp_conn_id) if settings.emails else None
    if smtp_conn is not None:
        await _smtp_notifier(settings, alert, smtp_conn).async_notify(context)
        sent.append(f"e-mail to {', '.join(settings.emails)}")
    if await _aexists(settings.slack_conn_id) is not None:
        await _slack_notifier(settings, alert).async_notify(context)
        sent.append(f"Slack {settings.slack_channel}")
    _log_sent(settings, alert, sent)
    return sent


def _log_sent(settings: AlertSettings, alert: Alert, sent: list[str]) -> None:
    if sent:
        log.warning("Alert sent (%s): %s", "; ".join(sent), alert.subject)
    else:
        log.warning(NO_CHANNEL.format(smtp=settings.smtp_conn_id, slack=settings.slack_conn_id, subject=alert.subject))


# --------------------------------------------------------------------------- task failures
def task_alert(context: dict, event: str) -> Alert:
    """What went wrong, from a task callback's context: DAG, run, task, try and the error."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", "?")
    run_id = getattr(ti, "run_id", None) or context.get("run_id", "?")
    error = context.get("exception")
    lines = [("DAG", dag_id), ("Run", run_id), ("Task", task_id), ("Try", str(getattr(ti, "try_number", "?")))]
    start, end = getattr(dag_run, "data_interval_start", None), getattr(dag_run, "data_interval_end", None)
    lines.append(("Data interval", f"{start} to {end}" if start else "none (a full load)"))
    if error is not None:
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        # An error text can quote a DSN or a key: mask every secret Airflow knows of (the
        # passwords of connections the task used are registered when they are read).
        lines.append(("Error", str(redact(text))))
    if getattr(ti, "log_url", None):
        lines.append(("Log", ti.log_url))
    return Alert(f"[Sparkify] {dag_id}.{task_id} {event} (run {run_id})", lines)


class TaskAlert(BaseNotifier):
    """A task callback that alerts on the configured channels, or logs that none is configured.

    ``TaskAlert("failed")`` for ``on_failure_callback``, ``TaskAlert("up for retry")`` for
    ``on_retry_callback``. Sending errors propagate to Airflow, which logs them without
    changing the task's state.
    """

    def __init__(self, event: str = "failed"):
        super().__init__()
        self.event = event

    def notify(self, context) -> None:
        send(task_alert(context, self.event), context)

    def __eq__(self, other) -> bool:
        return isinstance(other, TaskAlert) and other.event == self.event

    def __hash__(self) -> int:
        return hash(("TaskAlert", self.event))


# The callbacks of every Sparkify task (include/sparkify/dag_defaults.py).
ON_FAILURE = TaskAlert("failed")
ON_RETRY = TaskAlert("up for retry")


# --------------------------------------------------------------------------- lateness
def late_run_alert(context: dict, allowed_minutes: float) -> Alert:
    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    dag_id, run_id = run.get("dag_id", "?"), run.get("dag_run_id", "?")
    interval = (
        f"{run.get('data_interval_start')} to {run.get('data_interval_end')}"
        if run.get("data_interval_start")
        else "none (a full load)"
    )
    return Alert(
        f"[Sparkify] {dag_id} run {run_id} is late: not finished {allowed_minutes:g} min after it was queued",
        [
            ("DAG", dag_id),
            ("Run", run_id),
            ("Run type", str(run.get("run_type"))),
            ("State", str(run.get("state"))),
            ("Queued at", str(run.get("queued_at"))),
            ("Deadline", str(deadline.get("deadline_time"))),
            ("Data interval", interval),
        ],
    )


async def alert_late_run(allowed_minutes: float, context: dict | None = None) -> str:
    """The DeadlineAlert callback of final_project (awaited in the triggerer)."""
    alert = late_run_alert(context or {}, allowed_minutes)
    sent = await asend(alert, context or {})
    return f"{alert.subject} -> {'; '.join(sent) or 'no alert channel configured (logged only)'}"
