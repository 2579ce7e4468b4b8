"""The report `make run` prints: rows per table, check results, the data-quality history,
the rollups fired by complete days and months, the daily listening analytics, where the UI is."""

from __future__ import annotations

import psycopg

from dev.stack import REPO, Stack
from include.sparkify import task_ids

TABLES = [
    "staging_events",
    "staging_songs",
    "songplays",
    "users",
    "songs",
    "artists",
    "time",
    "staging_rejects",
    "dq_history",
    "load_volumes",
    "staging_drift",
    "daily_listening",
    "monthly_listening",
]
SQL_DIR = REPO / "include" / "sql"


def table_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in TABLES}


def check_results(api, runs: list[dict]) -> dict[str, dict[str, int]]:
    """For each data-quality check: how many of the given runs it passed and failed in."""
    results: dict[str, dict[str, int]] = {}
    for run in runs:
        for ti in api.task_instances(task_ids.FINAL_PROJECT_DAG, run["dag_run_id"]):
            if not ti["task_id"].startswith(f"{task_ids.QUALITY_CHECKS}."):
                continue
            name = ti["task_id"].split(".", 1)[1]
            entry = results.setdefault(name, {"passed": 0, "failed": 0, "not run": 0})
            key = {"success": "passed", "failed": "failed"}.get(ti["state"], "not run")
            entry[key] += 1
    return results


def dq_history(dsn: str) -> list[tuple]:
    """Per check: results recorded, passed, failed, the latest value (include/sql/monitoring/)."""
    sql = (SQL_DIR / "monitoring" / "dq_history_by_check.sql").read_text()
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()


def daily_listening(dsn: str, limit: int = 7) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT play_date, plays, listeners, paid_share, top_song_title, top_artist_name "
            "FROM daily_listening ORDER BY play_date DESC LIMIT %s",
            (limit,),
        ).fetchall()


def dq_history_lines(dsn: str) -> list[str]:
    lines = []
    for check, table, results, passed, failed, value, threshold, last_failed in dq_history(dsn):
        when = f", last failed {last_failed:%Y-%m-%d %H:%M}" if last_failed else ""
        lines.append(
            f"  {'FAIL' if failed else 'PASS'}  {table or '-':<16}{check:<28} {results:>4} results, "
            f"{passed:>4} passed, {failed:>3} failed; latest: {str(value)[:60]} ({threshold}){when}"
        )
    return lines or ["  (no results recorded yet)"]


def daily_listening_lines(dsn: str) -> list[str]:
    lines = [
        f"  {day}  {plays:>6} plays  {listeners:>4} listeners  paid {float(share):.0%}  "
        f"top song: {str(song or '-')[:30]}  top artist: {str(artist or '-')[:30]}"
        for day, plays, listeners, share, song, artist in daily_listening(dsn)
    ]
    return lines or ["  (not built yet: sparkify_analytics builds a day once all its 24 hours are published)"]


def rollup_lines(api) -> list[str]:
    """The rollup runs: one per complete day (sparkify_analytics), one per complete month."""
    lines = []
    for dag_id, unit in ((task_ids.ANALYTICS_DAG, "day"), (task_ids.MONTHLY_DAG, "month")):
        runs = [r for r in api.runs(dag_id) if r.get("partition_key")]
        keys = sorted({r["partition_key"] for r in runs})
        states: dict[str, int] = {}
        for r in runs:
            states[r["state"]] = states.get(r["state"], 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none yet"
        span = f" for {len(keys)} {unit}(s): {keys[0]} .. {keys[-1]}" if keys else ""
        lines.append(f"  {dag_id:<28} {len(runs):>3} run(s){span} ({summary})")
    return lines


def monthly_listening_lines(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT month_start, plays, listeners, paid_share, days_with_plays, top_song_title, top_artist_name "
            "FROM monthly_listening ORDER BY month_start"
        ).fetchall()
    return [
        f"  {month:%Y-%m}  {plays:>6} plays  {listeners:>4} listeners  paid {float(share):.0%}  {days} days  "
        f"top song: {str(song or '-')[:30]}  top artist: {str(artist or '-')[:30]}"
        for month, plays, listeners, share, days, song, artist in rows
    ] or ["  (no complete month yet)"]


def report(stack: Stack, api, full_load: dict | None, hourly_runs: list[dict]) -> str:
    counts = table_counts(stack.warehouse_dsn())
    lines = ["", "=" * 72, "Sparkify pipeline: local run report", "=" * 72]
    if full_load:
        lines.append(f"Full load {full_load['dag_run_id']} ({full_load['run_type']}): {full_load['state']}")
    else:
        lines.append("Full load: none this time (the schema was current and nothing new was uploaded)")
    ok = sum(r["state"] == "success" for r in hourly_runs)
    lines.append(f"Hourly runs of the window: {ok} of {len(hourly_runs)} succeeded")
    lines += ["", "Rows per table:"]
    lines += [f"  {table:<16}{n:>10,}" for table, n in counts.items()]
    lines += ["", "Data-quality tasks, one per kind of check (full load + hourly runs; each check below):"]
    for name, result in sorted(check_results(api, [r for r in [full_load, *hourly_runs] if r]).items()):
        status = "PASS" if not result["failed"] else "FAIL"
        lines.append(f"  {status}  {name:<28} passed {result['passed']}, failed {result['failed']}")
    lines += ["", "Data-quality history (table dq_history, every check of every run; see docs/operations.md):"]
    lines += dq_history_lines(stack.warehouse_dsn())
    lines += ["", "Rollups fired by complete partitions (a day: its 24 hours published; a month: its days):"]
    lines += rollup_lines(api)
    lines += ["", "Daily listening (sparkify_analytics, latest days):"]
    lines += daily_listening_lines(stack.warehouse_dsn())
    lines += ["", "Monthly listening (sparkify_monthly_listening):"]
    lines += monthly_listening_lines(stack.warehouse_dsn())
    lines += [
        "",
        f"Airflow UI:  {stack.api_url}   login: admin, password in {stack.passwords_file}",
        f'Warehouse:   make sql Q="select count(*) from songplays"   ({stack.warehouse_dsn().split("@")[1]})',
        f"S3 (moto):   {stack.s3_endpoint}   bucket: {stack.bucket}",
        "Stop everything with: make stop",
        "=" * 72,
    ]
    return "\n".join(lines)
