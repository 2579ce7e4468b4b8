"""dev/system_test.py without AWS: it skips (exit 0) naming what is missing, and its pure
parts (the data set with its bad lines and decoys, the expected figures, the comparison and
report, a scenario's environment) do what the real run relies on. No service is started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dev import system_test as st

REPO = Path(__file__).resolve().parents[1]
UTC = UTC
RUN = "sparkify-system-test/20181102T120000Z-abc123/"
FULL_ENV = {
    "SPARKIFY_SYSTEM_REDSHIFT_HOST": "wg.123456789012.us-west-2.redshift-serverless.amazonaws.com",
    "SPARKIFY_SYSTEM_REDSHIFT_DATABASE": "scratch",
    "SPARKIFY_SYSTEM_REDSHIFT_USER": "tester",
    "SPARKIFY_SYSTEM_REDSHIFT_PASSWORD": "pw-must-stay-secret",
    "SPARKIFY_SYSTEM_BUCKET": "scratch-bucket",
    "SPARKIFY_SYSTEM_IAM_ROLE": "arn:aws:iam::123456789012:role/copy",
    "SPARKIFY_SYSTEM_REGION": "us-west-2",
}


def run_module(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SPARKIFY_SYSTEM_")}
    return subprocess.run(
        [sys.executable, "-m", "dev.system_test"],
        cwd=REPO,
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- skipping without AWS
def test_without_the_variables_it_skips_naming_every_missing_one():
    done = run_module()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("SKIPPED"), done.stdout
    for name, why in st.REQUIRED.items():
        assert f"  {name}" in done.stdout and why in done.stdout, name
    assert "CI never needs AWS" in done.stdout


def test_with_some_variables_it_names_only_the_missing_ones():
    given = {k: FULL_ENV[k] for k in ("SPARKIFY_SYSTEM_REDSHIFT_HOST", "SPARKIFY_SYSTEM_BUCKET")}
    done = run_module(**given)
    assert done.returncode == 0, done.stderr
    missing = [name for name in st.REQUIRED if name not in given]
    assert st.missing_settings(given) == missing
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")]
    assert listed == missing
    assert f"{len(missing)} of its {len(st.REQUIRED)}" in done.stdout
    assert st.missing_settings({**FULL_ENV, "SPARKIFY_SYSTEM_REGION": "  "}) == ["SPARKIFY_SYSTEM_REGION"]


def test_settings_read_defaults_and_refuse_what_cannot_work():
    settings = st.Settings.from_env(FULL_ENV)
    assert (settings.port, settings.prefix, settings.keep, settings.timeout_minutes) == (
        5439,
        "sparkify-system-test",
        False,
        60,
    )
    assert "pw-must-stay-secret" not in repr(settings)
    custom = st.Settings.from_env(
        {
            **FULL_ENV,
            "SPARKIFY_SYSTEM_REDSHIFT_PORT": "5440",
            "SPARKIFY_SYSTEM_KEEP": "1",
            "SPARKIFY_SYSTEM_PREFIX": "/x/y/",
        }
    )
    assert (custom.port, custom.keep, custom.prefix) == (5440, True, "x/y")
    with pytest.raises(st.SettingsError, match="letters, digits"):
        st.Settings.from_env({**FULL_ENV, "SPARKIFY_SYSTEM_PREFIX": "a%Yb"})
    with pytest.raises(st.SettingsError, match="shorter prefix"):
        st.Settings.from_env({**FULL_ENV, "SPARKIFY_SYSTEM_PREFIX": "p" * 200})
    with pytest.raises(st.SettingsError, match="PORT"):
        st.Settings.from_env({**FULL_ENV, "SPARKIFY_SYSTEM_REDSHIFT_PORT": "five"})


def test_run_prefixes_are_unique_and_below_the_base():
    now = datetime(2018, 11, 2, 12, tzinfo=UTC)
    first, second = st.new_run_prefix("base/", now), st.new_run_prefix("base", now)
    assert first.startswith("base/20181102T120000Z-") and first.endswith("/") and first != second


# ---------------------------------------------------------------- the data set
@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> st.DataSet:
    return st.build_dataset(tmp_path_factory.mktemp("system-test"))


def json_lines(root: Path, scenario: str) -> list[bytes]:
    return [
        line for p in sorted((root / scenario / "log_data").rglob("*.json")) for line in st.log_lines(p) if line.strip()
    ]


def test_the_bad_lines_sit_in_the_busy_hours_day_file_and_are_all_rejected(dataset):
    day_file = dataset.root / "days" / dataset.busy_hour.strftime(st.SCENARIOS["days"])
    lines = st.log_lines(day_file)
    texts = [b.text for b in dataset.bad_lines]
    at = lines.index(texts[0])
    assert lines[at : at + 3] == texts  # together, in the busy hour's place in the file
    assert [b.kind.split()[0] for b in dataset.bad_lines] == ["malformed", "NextSong", "location"]
    assert all(st.parse_event(t) is None for t in texts)
    with pytest.raises(ValueError):
        json.loads(texts[0])
    no_user = json.loads(texts[1])
    assert no_user["page"] == "NextSong" and "userId" not in no_user
    assert len(json.loads(texts[2])["location"].encode()) > st.COLUMN_BYTES["location"]
    assert all(st.hour_of(b.ts) == dataset.busy_hour for b in dataset.bad_lines if b.ts is not None)
    # every other line of the data set is valid
    assert [line for line in json_lines(dataset.root, "days") if st.parse_event(line) is None] == texts


def test_the_decoys_sit_beside_the_logs_and_hold_valid_events_of_their_own(dataset):
    day_file = f"days/{dataset.busy_hour.strftime(st.SCENARIOS['days'])}"
    hour_dir = f"hours/{dataset.busy_hour.strftime(st.SCENARIOS['hours'])}"
    assert dataset.decoys == {
        "days": (f"{day_file.rsplit('/', 1)[0]}/_SUCCESS", f"{day_file}.1"),
        "hours": (f"{hour_dir}_SUCCESS", f"{hour_dir}events.json.1"),
    }
    for keys in dataset.decoys.values():
        events = [st.parse_event(line) for key in keys for line in st.log_lines(dataset.root / key)]
        assert len(events) == 4 and all(e is not None and e["sessionId"] >= st.DECOY_SESSION for e in events)
        assert not any(key.endswith(".json") for key in keys)


def test_both_layouts_hold_the_same_lines(dataset):
    days, hours = json_lines(dataset.root, "days"), json_lines(dataset.root, "hours")
    assert Counter(days) == Counter(hours)
    hour_keys = {
        p.parent.relative_to(dataset.root / "hours").as_posix() for p in (dataset.root / "hours").rglob("*.json")
    }
    assert all(datetime.strptime(k, "log_data/%Y/%m/%d/%H") for k in hour_keys)


def test_expected_figures_are_the_valid_lines_only_and_equal_in_both_layouts(dataset):
    days, hours = (st.expected_for(dataset, s, RUN) for s in ("days", "hours"))
    assert days.tables == hours.tables and days.songplay_ids == hours.songplay_ids
    lines = json_lines(dataset.root, "days")
    valid = [json.loads(line) for line in lines if line not in {b.text for b in dataset.bad_lines}]
    assert days.staging_events == hours.staging_events == len(lines) - 3 == len(valid)
    plays = [e for e in valid if e["page"] == "NextSong" and e["userId"]]
    assert days.tables["songplays"] == len(plays) == len(days.songplay_ids)
    assert days.tables["users"] == len({e["userId"] for e in valid if e["userId"]})
    assert days.tables["songs"] == days.staging_songs == st.SPEC.songs
    assert 0 < days.tables["artists"] <= st.SPEC.songs and 0 < days.tables["time"] <= len(plays)
    # nothing of the decoys counts: their sessions are not among the songplays' events
    assert all(e["sessionId"] < st.DECOY_SESSION for e in valid)


def test_expected_staging_and_rejects_follow_the_hourly_runs_objects(dataset):
    busy = dataset.busy_hour
    assert 0 < busy.hour < 23  # the seed's busy hour: the malformed line (hour 00) is not in its run
    days, hours = (st.expected_for(dataset, s, RUN) for s in ("days", "hours"))
    day_key = f"{RUN}days/{busy.strftime(st.SCENARIOS['days'])}"
    assert set(days.staging_by_source) == {day_key, f"{RUN}days/log_data/"}
    part = [f"{RUN}hours/{(busy + timedelta(hours=n)).strftime(st.SCENARIOS['hours'])}events.json" for n in (0, 1)]
    assert set(hours.staging_by_source) == {*part, f"{RUN}hours/log_data/"}
    for e in (days, hours):
        assert sum(e.staging_by_source.values()) == sum(e.staging_by_object.values()) == e.staging_events
        assert [b.kind for b, _, _ in e.rejects["full_load"]] == [b.kind for b in dataset.bad_lines]
    assert [key for _, key, _ in days.rejects["hourly"]] == [day_key] * 3
    malformed_key = f"{RUN}hours/{busy.replace(hour=0).strftime(st.SCENARIOS['hours'])}events.json"
    assert {key for _, key, _ in hours.rejects["full_load"]} == {malformed_key, part[0]}
    assert [b.kind for b, _, _ in hours.rejects["hourly"]] == [b.kind for b in dataset.bad_lines[1:]]


def test_hourly_objects_follow_each_template(tmp_path):
    for key in ("days/log_data/2018/11/2018-11-02-events.json", "hours/log_data/2018/11/02/23/events.json"):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_text("{}")
    (tmp_path / "hours/log_data/2018/11/02/23/_SUCCESS").write_text("")
    assert st.hourly_objects(tmp_path, "days", datetime(2018, 11, 2, 23)) == [
        "days/log_data/2018/11/2018-11-02-events.json"
    ]
    assert st.hourly_objects(tmp_path, "hours", datetime(2018, 11, 2, 22)) == [
        "hours/log_data/2018/11/02/23/events.json"
    ]
    assert st.hourly_objects(tmp_path, "days", datetime(2018, 11, 3, 5)) == []


# ---------------------------------------------------------------- comparing and reporting
def redshift_like(e: st.Expected, bucket: str = "scratch-bucket") -> st.Found:
    """What Redshift holds when the pipeline does everything right: rejects as Redshift's
    engine writes them (the refused line's file URI; a rule reject under the COPY's prefix,
    line 0, with the row as text)."""
    runs = {"full_load": "manual__full", "hourly": "manual__hour"}
    rejects = []
    for run, run_id in runs.items():
        for bad, key, line in e.rejects[run]:
            if bad.refused_by_copy:
                rejects.append(st.Reject(run_id, "staging_events", f"s3://{bucket}/{key}", line, "Invalid JSON", None))
            else:
                raw = f"page=NextSong | ts={bad.ts} | userid=null"
                rejects.append(
                    st.Reject(
                        run_id,
                        "staging_events",
                        f"s3://{bucket}/{e.log_prefix.rstrip('/')}/ (COPY)",
                        0,
                        st.NEXTSONG_WITHOUT_USER,
                        raw,
                    )
                )
    return st.Found(
        counts={**e.tables, "staging_events": e.staging_events, "staging_songs": e.staging_songs},
        songplay_ids=e.songplay_ids,
        staging_by_source=dict(e.staging_by_source),
        decoy_rows=0,
        bad_rows=0,
        rejects=tuple(rejects),
        manifests={
            f"{RUN}_sparkify/copy-manifests/x/staging_events/r/00000.manifest": [f"s3://{bucket}/{RUN}a.json"],
            f"{RUN}_sparkify/copy-manifests/x/staging_songs/r/00000.manifest": [f"s3://{bucket}/{RUN}b.json"],
        },
    )


RUNS = {"full_load": "manual__full", "hourly": "manual__hour"}


@pytest.mark.parametrize("scenario", ["days", "hours"])
def test_a_warehouse_that_holds_what_is_expected_passes_every_check(dataset, scenario):
    e = st.expected_for(dataset, scenario, RUN)
    checks = st.compare(e, redshift_like(e), RUNS)
    assert [c for c in checks if not c.ok] == []
    assert len([c for c in checks if c.what.startswith("reject of")]) == len(e.rejects["full_load"]) + len(
        e.rejects["hourly"]
    )
    # the stand-in's shape passes too: every row under its object's key, rejects under the object
    found = replace(redshift_like(e), staging_by_source=dict(e.staging_by_object))
    assert all(c.ok for c in st.compare(e, found, RUNS))
    assert st.report(checks).endswith(f"RESULT: PASSED, {len(checks)} checks")


def test_a_mismatch_is_reported_with_table_expected_and_found(dataset):
    e = st.expected_for(dataset, "days", RUN)
    good = redshift_like(e)
    bad = replace(
        good,
        counts={**good.counts, "songplays": e.tables["songplays"] + 1, "staging_events": e.staging_events + 4},
        decoy_rows=4,
        rejects=good.rejects[1:],  # a bad line of the full load not listed
        manifests={**good.manifests, "m": [f"s3://scratch-bucket/{RUN}days/log_data/2018/11/_SUCCESS"]},
    )
    checks = st.compare(e, bad, RUNS)
    failed = {c.what: c for c in checks if not c.ok}
    assert failed["songplays rows"].expected == e.tables["songplays"]
    assert failed["songplays rows"].found == e.tables["songplays"] + 1
    assert failed["staging_events rows"].found == e.staging_events + 4
    assert failed["staging_events rows from _SUCCESS / .json.1"].found == 4
    assert failed["COPY manifest entries that are not .json objects"].found == [
        "s3://scratch-bucket/…/days/log_data/2018/11/_SUCCESS"
    ]
    assert failed["staging_rejects rows of the full load (staging_events)"].found == 2
    assert any(w.startswith("reject of the full load: ") and c.found == "missing" for w, c in failed.items())
    text = st.report(checks)
    assert f"RESULT: FAILED, {len(failed)} of {len(checks)} checks:" in text
    assert f"[days] songplays rows: expected {e.tables['songplays']}, found {e.tables['songplays'] + 1}" in text


def test_scenarios_are_compared_table_by_table(dataset):
    e = st.expected_for(dataset, "days", RUN)
    days = redshift_like(e)
    hours = replace(days, counts={**days.counts, "users": days.counts["users"] - 1})
    failed = [c for c in st.compare_scenarios({"days": days, "hours": hours}) if not c.ok]
    assert [(c.scenario, c.what) for c in failed] == [("days vs hours", "users rows")]
    assert st.compare_scenarios({"days": days}) == []


def test_rejects_are_matched_by_key_not_wording(dataset):
    e = st.expected_for(dataset, "hours", RUN)
    wanted = e.rejects["full_load"]
    rows = [st.Reject("r", "staging_events", f"{RUN}x/unrelated.json", 1, "whatever", None)]
    assert [hit for _, _, hit in st.match_rejects(wanted, rows, e.log_prefix)] == [None, None, None]
    # PostgreSQL's shape: every reject under its object key, the raw line as text
    rows = [
        st.Reject("r", "staging_events", key, line, f"reason {i}", bad.text.decode())
        for i, (bad, key, line) in enumerate(wanted)
    ]
    assert [hit.line_number for _, _, hit in st.match_rejects(wanted, rows, e.log_prefix)] == [w[2] for w in wanted]


# ---------------------------------------------------------------- a scenario's environment
def test_a_scenarios_environment_points_the_pipeline_at_the_run_prefix(tmp_path):
    settings = st.Settings.from_env(FULL_ENV)
    base = {"PATH": "/bin", "AWS_PROFILE": "test", "SPARKIFY_LATE_MINUTES": "5", "AIRFLOW__CORE__EXECUTOR": "x"}
    env = st.scenario_env(settings, "hours", RUN, tmp_path, base)
    assert env["AWS_PROFILE"] == "test" and "SPARKIFY_LATE_MINUTES" not in env and "AIRFLOW__CORE__EXECUTOR" not in env
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path / 'airflow.db'}"
    redshift = json.loads(env["AIRFLOW_CONN_REDSHIFT"])
    assert redshift == {
        "conn_type": "redshift",
        "host": FULL_ENV["SPARKIFY_SYSTEM_REDSHIFT_HOST"],
        "port": 5439,
        "schema": "scratch",
        "login": "tester",
        "password": "pw-must-stay-secret",
    }
    assert json.loads(env["AIRFLOW_CONN_AWS_CREDENTIALS"]) == {
        "conn_type": "aws",
        "extra": {"region_name": "us-west-2"},
    }
    assert env["AIRFLOW_VAR_S3_BUCKET"] == "scratch-bucket"
    assert not any("pw-must-stay-secret" in v for k, v in env.items() if k != "AIRFLOW_CONN_REDSHIFT")

    # the project's config, read at import in a process with this environment
    probe = (
        "import json; from include.sparkify import config; from include.sparkify.staging.sources import EVENTS, SONGS; "
        "print(json.dumps([EVENTS.prefix, EVENTS.prefix_tag, SONGS.prefix, config.LOG_JSONPATHS_KEY, config.LOG_KEY_TEMPLATE, "
        "config.MANIFEST_PREFIX, config.REDSHIFT_IAM_ROLE, config.S3_REGION, config.MAX_REJECT_FRACTION]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        f"{RUN}hours/log_data",
        f"{RUN}hours/log_data/",
        f"{RUN}song_data",
        f"{RUN}log_json_path.json",
        f"{RUN}hours/log_data/%Y/%m/%d/%H/",
        f"{RUN}_sparkify/copy-manifests/hours",
        "arn:aws:iam::123456789012:role/copy",
        "us-west-2",
        0.5,
    ]


def test_the_tables_dropped_are_those_the_migrations_create():
    tables = st.sparkify_tables()
    assert {*st.STAR, "staging_events", "staging_songs", "staging_rejects", "staging_manifest"} <= set(tables)
    assert tables[-1] == "schema_migrations" and len(tables) == len(set(tables))
    assert not any(t.startswith("staging_manifest_") for t in tables)  # a migration's temporary table
