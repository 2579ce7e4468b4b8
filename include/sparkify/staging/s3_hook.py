"""The provider's S3Hook, with botocore's S3 model read once per process.

Each ``S3Hook.get_conn()`` opens a new boto3 session, and a new session reads botocore's
data files again: the S3 service model, its endpoint rule set and the endpoints file, 3.6 MB
of JSON. That is about a quarter of a second of CPU per client here, which every staging
call paid: in a process that stages many times (the tests, ``dag.test()``) it was 39 % of
the CPU of the stack tests that stage (py-spy, 2026-11-30). A task process stages once, so
it still reads them once.

botocore keeps what a data loader has read (``Loader`` caches each file it loads); it is
the session's ``data_loader`` component. ``SharedModelsS3Hook`` gives every session it
opens the same loader, so the files are parsed once per process and then shared read-only,
as two clients of one session already share them. Nothing else changes: the connection,
its credentials (refreshed as before), the endpoint, the config and the user agent are the
hook's own.
"""

from __future__ import annotations

import threading

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

_lock = threading.Lock()
_loader = None  # the first session's data loader, given to every later session


def shared_loader(botocore_session):
    """The process's data loader: the one of the first session that asks, for good."""
    global _loader
    with _lock:
        if _loader is None:
            _loader = botocore_session.get_component("data_loader")
        return _loader


def share_models(session) -> None:
    """Makes a boto3 (or botocore) session read botocore's data files through the shared loader."""
    botocore_session = getattr(session, "_session", session)  # boto3.Session wraps botocore's
    botocore_session.register_component("data_loader", shared_loader(botocore_session))


class SharedModelsS3Hook(S3Hook):
    """``S3Hook`` whose sessions share botocore's data loader (the module's docstring)."""

    def get_session(self, region_name: str | None = None, deferrable: bool = False):
        session = super().get_session(region_name=region_name, deferrable=deferrable)
        share_models(session)
        return session
