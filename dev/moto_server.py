"""moto's S3 server, as the local S3 stand-in, with per-request costs removed and one
endpoint added.

Profiling `moto_server` under the staging load (py-spy, 2,000 PUTs and GETs of small
objects) showed about a third of its time going to work whose answer never changes:

* finding the service for a request: `DomainDispatcherApplication.get_backend_for_host`
  lists moto's package directory (`backends.list_of_moto_modules`) and then tries the URL
  patterns of every AWS service in turn, under a lock;
* logging every request line through werkzeug's logger.

This launcher memoises the first two per host and keeps werkzeug's request log at WARNING;
everything else is moto's own server (`moto.server.main`), with the same arguments.

A plain GetObject is answered from moto's S3 backend directly (dev/moto_fast_get.py).

The endpoint: `POST /_sparkify/seed` with `{"bucket": ..., "root": ...}` puts the files of
a local directory in the Sparkify layout into the bucket through moto's S3 backend, in this
process (dev/seed.py, `seed_local`): a PUT costs moto and its client about 8 ms of CPU
together, so the real data set's 14,927 objects took 75 s as PUTs and take 3 s so. Objects
already there with the same size are kept, as `upload_tree` does. Since it reads local
files, it answers only a request whose `X-Sparkify-Seed-Token` header is the token in this
process's environment (`SPARKIFY_SEED_TOKEN`, set by dev/stack.py from a 0600 file of the
stack's state); without that variable the endpoint is off.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: dev/ importable

from dev.moto_fast_get import fast_get
from dev.seed import SEED_PATH, TOKEN_HEADER, TOKEN_VARIABLE, tree_files


def seed_bucket(bucket: str, root: Path) -> dict:
    """Puts tree_files(root) into the bucket, keeping keys there with the same size."""
    from moto.s3.models import s3_backends

    backends = [s3_backends[account]["aws"] for account in list(s3_backends)]
    backend = next((b for b in backends if bucket in b.buckets), None)
    if backend is None:
        raise LookupError(f"no bucket {bucket!r} in this moto server")
    if not Path(root).is_dir():
        raise LookupError(f"no directory {root}")
    keys = backend.buckets[bucket].keys
    files = tree_files(Path(root))
    todo = {key: path for key, path in files.items() if getattr(keys.get(key), "size", None) != path.stat().st_size}
    for key, path in todo.items():
        backend.put_object(bucket, key, path.read_bytes())
    return {"uploaded": len(todo), "kept": len(files) - len(todo)}


def seed_request(environ, start_response) -> list[bytes]:
    token = os.environ.get(TOKEN_VARIABLE, "")
    given = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"), "")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        status, body = "403 Forbidden", {"error": f"no or a wrong {TOKEN_HEADER} header (dev/stack.py, seed_token)"}
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            asked = json.loads(environ["wsgi.input"].read(length) or b"{}")
            status, body = "200 OK", seed_bucket(asked["bucket"], Path(asked["root"]))
        except (KeyError, ValueError, LookupError, OSError) as error:
            status, body = "400 Bad Request", {"error": f"{type(error).__name__}: {error}"}
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def patch_moto() -> None:
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    find = DomainDispatcherApplication.get_backend_for_host
    found: dict = {}

    def get_backend_for_host(self, host):
        if host not in found:
            found[host] = find(self, host)
        return found[host]

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host

    dispatch = DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
        if environ.get("PATH_INFO") == SEED_PATH and environ.get("REQUEST_METHOD") == "POST":
            return seed_request(environ, start_response)
        answered = fast_get(environ, start_response)
        return answered if answered is not None else dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
