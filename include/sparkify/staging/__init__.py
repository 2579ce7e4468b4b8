"""Staging: JSON objects in S3 -> a staging table, with one of two engines.

The engine is chosen at run time by the type of the warehouse connection:

* ``redshift`` (redshift.py): a server-side ``COPY ... FROM 's3://...'``; Redshift reads S3
  itself, in parallel.
* ``postgres`` (postgres.py, the local stand-in): the objects are streamed from S3 into
  ``COPY ... FROM STDIN`` with the same column mapping.

Either way a staging load is one transaction: the table is emptied (or the run's day files'
rows removed), reloaded and its manifest row updated together, so a failed or killed load
leaves the previous state. Records that cannot be staged go to ``staging_rejects`` with
their object key and line.

The modules: sources.py (what is staged and the rules), objects.py (S3 listing and
fingerprints), s3_hook.py (the S3 client), lines.py (bytes to records), engine.py with
redshift.py and postgres.py (rows.py is the PostgreSQL fast path), statements.py (the SQL
of include/sql/staging).
"""

from __future__ import annotations

import logging

from include.sparkify import config
from include.sparkify.staging.engine import Engine
from include.sparkify.staging.objects import describe_sources, fingerprint, list_objects
from include.sparkify.staging.postgres import PostgresEngine
from include.sparkify.staging.redshift import RedshiftEngine
from include.sparkify.staging.sources import (
    EVENTS,
    RULES,
    SONGS,
    SOURCES,
    Source,
    StageResult,
    StagingError,
    StagingRun,
)

__all__ = ["EVENTS", "RULES", "SONGS", "SOURCES", "Source", "StageResult", "StagingError", "StagingRun", "stage"]

log = logging.getLogger(__name__)

ENGINES = {engine.name: engine for engine in (RedshiftEngine, PostgresEngine)}


def stage(source: Source, window, *, run_id: str, bucket: str, **options) -> dict:
    """Stage ``source`` for ``window``; returns the figures that were logged. ``options``:
    the other fields of ``StagingRun`` (force, connection ids, reject threshold)."""
    return stage_run(StagingRun(source, window, run_id, bucket, **options))


def stage_run(run: StagingRun) -> dict:
    from airflow.sdk import BaseHook
    from botocore.exceptions import BotoCoreError

    from include.sparkify.staging.s3_hook import SharedModelsS3Hook

    conn_type = BaseHook.get_connection(run.redshift_conn_id).conn_type
    if conn_type not in ENGINES:
        raise StagingError(
            f"connection {run.redshift_conn_id!r} has type {conn_type!r}: expected 'redshift' (COPY from S3) "
            "or 'postgres' (the local stand-in, streamed from S3)"
        )
    s3_hook = SharedModelsS3Hook(aws_conn_id=run.aws_conn_id)
    s3_client = s3_hook.get_conn()
    try:
        with ENGINES[conn_type](run, s3_hook, s3_client) as engine:
            return _stage(run, engine, s3_client).as_dict()
    except BotoCoreError as exc:  # S3 unreachable or failing: the transaction was rolled back
        raise StagingError(
            f"{run.table}: cannot read {run.uri(run.source.prefix)}/ from S3 "
            f"({s3_client.meta.endpoint_url}): {exc}. Nothing was staged; the task's retry reads again."
        ) from exc


def _stage(run: StagingRun, engine: Engine, s3_client) -> StageResult:
    source = run.source
    result = StageResult(table=source.table, engine=engine.name)
    manifest = engine.manifest() if source.skip_unchanged and not run.force else None
    if manifest and not run.window.full and manifest.checked_minutes_ago < config.CATALOG_CHECK_MINUTES:
        # An hourly run between catalog checks: not even a listing (it grows with the catalog).
        result.skipped_unchanged = True
        log.info(
            "%s: the catalog under %s was checked %.0f min ago (staged by %s); the next check is due after %g min "
            "(SPARKIFY_CATALOG_CHECK_MINUTES). Keeping the staged catalog; restage_songs=true or a full load "
            "checks now.",
            source.table,
            run.uri(source.prefix),
            manifest.checked_minutes_ago,
            manifest.run_id,
            config.CATALOG_CHECK_MINUTES,
        )
        return result

    objects, missing, ignored = list_objects(s3_client, run, engine.s3_hook)
    for key in missing:
        log.warning("No source object %s for this window: staging zero rows from it.", run.uri(key))
    if ignored:
        log.warning(
            "Ignoring %d object(s) under %s that are not .json: %s",
            len(ignored),
            run.uri(source.prefix),
            ", ".join(ignored[:10]),
        )
    print_ = fingerprint(objects)
    result.missing_keys, result.ignored_keys = missing, ignored
    result.sources = describe_sources(run, objects)

    if manifest and manifest.fingerprint == print_:
        result.skipped_unchanged = True
        engine.mark_checked()
        engine.commit()
        log.info(
            "%s: the %d objects under %s are unchanged since they were last staged; keeping them.",
            source.table,
            len(objects),
            run.uri(source.prefix),
        )
        return result
    engine.clear()
    engine.load(objects, result)
    engine.record(print_, result)
    engine.commit()
    engine.after_commit(objects, result)
    log.info(
        "%s: staged %d rows from %d objects (%d bytes); %d of %d records rejected.",
        source.table,
        result.rows,
        result.objects,
        result.bytes,
        result.rejected,
        result.records,
    )
    if result.rejected:
        check_rejects(run, result, engine)
    return result


def check_rejects(run: StagingRun, result: StageResult, engine: Engine) -> None:
    """Log the first rejects; fail the task when more than the threshold were rejected."""
    samples = engine.reject_samples(limit=5)
    lines = "\n".join(f"  s3 object {key} line {line}: {reason}" for key, line, reason in samples)
    fraction = result.rejected / max(result.records, 1)
    message = (
        f"{result.table}: {result.rejected} of {result.records} records rejected ({fraction:.2%}); "
        f"see staging_rejects where run_id = '{run.run_id}'. First ones:\n{lines}"
    )
    if fraction > run.max_reject_fraction:
        raise StagingError(
            f"{message}\nThis is over the reject threshold of {run.max_reject_fraction:.2%} "
            "(SPARKIFY_MAX_REJECT_FRACTION)."
        )
    log.warning(message)
