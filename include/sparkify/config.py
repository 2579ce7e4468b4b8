"""Settings read from the environment at parse time, and the assets the DAGs share.

Nothing here looks up a Variable or a connection: those are read at run time only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import Asset

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"

# Connection ids and the Variable naming the source bucket (see README: Configuration).
REDSHIFT_CONN_ID = os.environ.get("SPARKIFY_REDSHIFT_CONN_ID", "redshift")
AWS_CONN_ID = os.environ.get("SPARKIFY_AWS_CONN_ID", "aws_credentials")
BUCKET_VARIABLE = "s3_bucket"

LOG_PREFIX = os.environ.get("SPARKIFY_LOG_PREFIX", "log_data")
SONG_PREFIX = os.environ.get("SPARKIFY_SONG_PREFIX", "song_data")
LOG_JSONPATHS_KEY = os.environ.get("SPARKIFY_LOG_JSONPATHS_KEY", "log_json_path.json")
# Where an hour's log events are: a strftime pattern rendered for each hour of a run's window
# (include/sparkify/staging/layout.py). The default names Udacity's day files; hour
# partitions are e.g. log_data/%Y/%m/%d/%H/ (a value ending in / means every .json below it).
LOG_KEY_TEMPLATE = os.environ.get("SPARKIFY_LOG_KEY_TEMPLATE", f"{LOG_PREFIX}/%Y/%m/%Y-%m-%d-events.json")
# The longest source record staged, in bytes: longer ones are rejected as too long without
# ever being held whole. Redshift's own limit is 4 MB per JSON object
# (https://docs.aws.amazon.com/redshift/latest/dg/copy-parameters-data-format.html).
MAX_RECORD_BYTES = int(os.environ.get("SPARKIFY_MAX_RECORD_BYTES", str(1 << 20)))
# How long after its hour an event may still land in a later partition and be loaded.
LATE_MINUTES = float(os.environ.get("SPARKIFY_LATE_MINUTES", "60"))
# Where the Redshift engine writes the COPY manifests it loads through (in the source bucket).
MANIFEST_PREFIX = os.environ.get("SPARKIFY_MANIFEST_PREFIX", "_sparkify/copy-manifests").strip("/")

# The IAM role Redshift assumes to read S3 in COPY (trusting redshift.amazonaws.com). It is
# not Airflow's own identity: the aws_credentials connection (and any role_arn in its extra,
# which the AWS hook assumes for listing S3) stays separate. Unset: COPY uses the
# connection's credentials.
REDSHIFT_IAM_ROLE = os.environ.get("SPARKIFY_REDSHIFT_IAM_ROLE", "")
S3_REGION = os.environ.get("SPARKIFY_S3_REGION", "us-west-2")

# Fraction of a staging load's source records that may be rejected before the task fails.
MAX_REJECT_FRACTION = float(os.environ.get("SPARKIFY_MAX_REJECT_FRACTION", "0.01"))

# Volume checks (include/sql/checks/songplays_volume.sql, docs/operations.md). An hourly
# run's songplays are compared with the mean of the same hour of day over the published runs
# of the last VOLUME_HISTORY_DAYS days; a full load's with the last published full load.
# Outside [VOLUME_MIN_RATIO, VOLUME_MAX_RATIO] x that baseline the audit fails, once there
# are VOLUME_MIN_HISTORY_RUNS such runs and the baseline is at least VOLUME_MIN_BASELINE rows:
# below that, an hour's count is noise (the real data set has 0 to 54 plays in the same hour
# of different days). A full load is held to the lower bound only: the data grows.
VOLUME_MIN_RATIO = float(os.environ.get("SPARKIFY_VOLUME_MIN_RATIO", "0.6"))
VOLUME_MAX_RATIO = float(os.environ.get("SPARKIFY_VOLUME_MAX_RATIO", "1.8"))
VOLUME_MIN_BASELINE = float(os.environ.get("SPARKIFY_VOLUME_MIN_BASELINE", "100"))
VOLUME_HISTORY_DAYS = int(os.environ.get("SPARKIFY_VOLUME_HISTORY_DAYS", "7"))
VOLUME_MIN_HISTORY_RUNS = int(os.environ.get("SPARKIFY_VOLUME_MIN_HISTORY_RUNS", "3"))
# The largest share of a window's staged NextSong events that may repeat an event already
# staged (same user, session, item and ts): a source delivered twice fails the audit at any
# volume. The real data set has none.
MAX_DUPLICATE_FRACTION = float(os.environ.get("SPARKIFY_MAX_DUPLICATE_FRACTION", "0.05"))

# Schema drift (include/sparkify/staging/drift.py): a source key missing from, or not mapped
# in, more than this share of a staging load's records warns (an alert; the run goes on).
DRIFT_WARN_FRACTION = float(os.environ.get("SPARKIFY_DRIFT_WARN_FRACTION", "0.0"))

# How often an hourly run compares the song catalog in S3 with what was staged (a listing
# of every song object, which grows with the catalog). Between checks an hourly run keeps
# the staged catalog without listing it; a full load or restage_songs=true always checks.
CATALOG_CHECK_MINUTES = float(os.environ.get("SPARKIFY_CATALOG_CHECK_MINUTES", "1440"))


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


START_DATE = _utc(os.environ.get("SPARKIFY_START_DATE", "2018-11-01"))
END_DATE = _utc(os.environ.get("SPARKIFY_END_DATE"))
SCHEDULE_CRON = os.environ.get("SPARKIFY_SCHEDULE_CRON", "0 * * * *")

# Where the warehouse tables live, for the assets' URIs (no password: it is an identifier).
# Production: redshift://<workgroup>.<account>.<region>.redshift-serverless.amazonaws.com:5439/dev
WAREHOUSE_URI = os.environ.get("SPARKIFY_WAREHOUSE_URI", "postgres://localhost:5432/sparkify").rstrip("/")
WAREHOUSE_SCHEMA = "public"

# "The Sparkify warehouse schema is ready": emitted by create_tables, schedules final_project.
SCHEMA_READY = Asset(name="sparkify_warehouse_schema", group="sparkify")


def table_asset(table: str) -> Asset:
    return Asset(name=f"sparkify_{table}", uri=f"{WAREHOUSE_URI}/{WAREHOUSE_SCHEMA}/{table}", group="sparkify")


# The analytics rollups built from the published star schema (include/sparkify/analytics.py):
# a day of daily_listening once all 24 hourly partitions of songplays are published (or,
# below 24, once DAILY_ROLLUP_MIN_HOURS are: the early-fire option), a month of
# monthly_listening once every day of it is built.
ANALYTICS_TABLE = "daily_listening"
MONTHLY_TABLE = "monthly_listening"
DAILY_ROLLUP_MIN_HOURS = int(os.environ.get("SPARKIFY_DAILY_ROLLUP_MIN_HOURS", "24"))


# Monitoring (see docs/operations.md). The alert channels are read when an alert fires,
# never at parse time: e-mail when SPARKIFY_ALERT_EMAILS is set and the SMTP connection
# exists; Slack when the Slack connection exists; otherwise a log line.
@dataclass(frozen=True)
class AlertSettings:
    emails: list[str]
    from_email: str
    smtp_conn_id: str
    slack_conn_id: str
    slack_channel: str

    @classmethod
    def from_env(cls) -> AlertSettings:
        env = os.environ
        return cls(
            emails=[e.strip() for e in env.get("SPARKIFY_ALERT_EMAILS", "").split(",") if e.strip()],
            from_email=env.get("SPARKIFY_ALERT_FROM", ""),
            smtp_conn_id=env.get("SPARKIFY_SMTP_CONN_ID", "smtp_default"),
            slack_conn_id=env.get("SPARKIFY_SLACK_CONN_ID", "slack_api_default"),
            slack_channel=env.get("SPARKIFY_SLACK_CHANNEL", "#sparkify-alerts"),
        )


# A run of final_project that has not finished this long after it was queued raises a
# lateness alert (a DeadlineAlert, evaluated by the scheduler). Minutes; fractions allowed.
RUN_DEADLINE_MINUTES = float(os.environ.get("SPARKIFY_RUN_DEADLINE_MINUTES", "45"))

# Task retries (at least 2: the Astro DAG-integrity check requires it) and the wait before
# each. A local stack may shorten the wait so a failure shows at once (see dev/run.py).
TASK_RETRIES = int(os.environ.get("SPARKIFY_TASK_RETRIES", "3"))
RETRY_DELAY_SECONDS = float(os.environ.get("SPARKIFY_RETRY_DELAY_SECONDS", "300"))

# Where every data-quality check result is recorded.
DQ_HISTORY_TABLE = "dq_history"
