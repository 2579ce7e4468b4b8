"""moto's S3 server, as the local S3 stand-in, with per-request costs removed and one
endpoint added.

Profiling `moto_server` under the staging load (py-spy, 2,000 PUTs and GETs of small
objects) showed about a third of its time going to work whose answer never changes:

* finding the service for a request: `DomainDispatcherApplication.get_backend_for_host`
  lists moto's package directory (`backends.list_of_moto_modules`) and then tries the URL
  patterns of every AWS service in turn, under a lock;
* logging every request line through werkzeug's logger.

This launcher memoises the first two per host and keeps werkzeug's request log at WARNING.

It serves moto's application under uvicorn (httptools, uvloop) rather than werkzeug's
development server, which closes every connection and starts a thread for each
(``asgi_app``). A plain GetObject is answered in uvicorn's event loop from moto's S3
backend (dev/moto_fast_get.py), a listing's keys are written as XML directly
(dev/moto_fast_list.py), and the timestamps moto writes (a LastModified per key listed)
are read without dateutil (``aware_datetime``). Every other request is moto's own
application's, with the environ moto's own server would give it. Options: `-H` host and
`-p` port, as moto's server takes them.

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
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: dev/ importable

from dev import moto_fast_list
from dev.moto_fast_get import fast_get
from dev.seed import SEED_PATH, TOKEN_HEADER, TOKEN_VARIABLE, tree_files

WSGI_THREADS = 16  # requests moto's WSGI application serves at once (werkzeug's server: one per connection)
EVENT_LOOP_MAX_BYTES = 1 << 20  # larger objects are copied in a thread: the event loop serves every connection


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

    from moto.core import serialize

    serialize.parse_to_aware_datetime = aware_datetime
    moto_fast_list.install()


def aware_datetime(value):
    """botocore's ``parse_to_aware_datetime``, which moto's serialiser calls for every
    timestamp it writes, with an ISO 8601 string read by ``datetime.fromisoformat`` instead
    of dateutil. A listing of the song catalog (14,896 keys, a LastModified each) cost moto
    3.5 s of CPU, half of it in dateutil. Anything else goes to botocore's function."""
    from botocore.utils import parse_to_aware_datetime

    if isinstance(value, str) and not _number(value):  # botocore reads a number as epoch seconds
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return parse_to_aware_datetime(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parse_to_aware_datetime(value)


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def werkzeug_environ(app):
    """moto's WSGI application, given the environ werkzeug's server and moto's own request
    handler (``MotoRequestHandler.make_environ``) build: werkzeug drops every header with an
    underscore in its name, and moto puts back the original spelling of those it keeps
    (S3 metadata keys may hold underscores). a2wsgi folds an underscored header into the
    environ like any other, so the header entries are rebuilt from the request's headers
    (``asgi.scope``) as werkzeug and moto would have."""
    from moto.core.request import (
        PRESERVED_HEADER_NAMES_ENVIRON_KEY,
        environ_key_for_header,
        should_preserve_original_header_name,
    )

    def call(environ, start_response):
        scope = environ["asgi.scope"]
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]]
        for name in [name for name in environ if name.startswith("HTTP_")]:
            del environ[name]
        for name, value in headers:
            if "_" not in name and name not in ("content-type", "content-length"):  # a2wsgi's are werkzeug's
                key, value = environ_key_for_header(name), value.replace("\r\n", "")
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
        names: dict[str, str] = {}
        values: dict[str, list[str]] = {}
        for name, value in headers:
            key = environ_key_for_header(name)
            if should_preserve_original_header_name(name) and key not in dashed:
                names.setdefault(key, name)
                values.setdefault(key, []).append(value.replace("\r\n", ""))
        environ.update({key: ",".join(key_values) for key, key_values in values.items()})
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
        # What werkzeug's server adds and a2wsgi does not: the request target as sent (moto
        # reads an S3 key from it, so a key with %25 or %3F in its path stays that key), and
        # a chunked body marked as ending with its last chunk (else werkzeug reads it as empty).
        query = environ.get("QUERY_STRING", "")
        raw = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else environ["PATH_INFO"]
        environ["RAW_URI"] = environ["REQUEST_URI"] = raw + (f"?{query}" if query else "")
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return call


def asgi_app(wsgi_threads: int = WSGI_THREADS):
    """moto's server application (patched as above) as an ASGI application for uvicorn.

    moto's own server is werkzeug's development server, which closes the connection after
    every answer and starts a thread per connection. Measured with 5,000 GETs of song
    objects from 8 threads (2026-11-30): moto's CPU per GET 0.93-1.11 ms there, 0.30-0.33 ms
    here, where a plain GetObject (dev/moto_fast_get.py) is answered in uvicorn's event loop
    and connections are kept; the client's fell from 1.0-1.2 ms to 0.92 ms. Every other
    request goes to moto's WSGI application in a2wsgi's threads, with the environ moto's
    request handler would have given it (``werkzeug_environ``)."""
    import io

    from a2wsgi import WSGIMiddleware
    from a2wsgi.wsgi import build_environ
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto.server.main sets it
    wsgi = WSGIMiddleware(werkzeug_environ(app), workers=wsgi_threads)

    async def serve(scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            answer = {}

            def start_response(status: str, headers: list) -> None:
                answer.update(status=int(status.split(" ", 1)[0]), headers=headers)

            body = fast_get(build_environ(scope, io.BytesIO()), start_response, max_bytes=EVENT_LOOP_MAX_BYTES)
            if body is not None:
                headers = [
                    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer["headers"]
                ]
                await send({"type": "http.response.start", "status": answer["status"], "headers": headers})
                await send({"type": "http.response.body", "body": b"".join(body)})
                return
        await wsgi(scope, receive, send)

    return serve


def main(argv: list[str] | None = None) -> None:
    """moto's server (its host and port options) under uvicorn."""
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server.main: moto's own URLs name it
    uvicorn.run(
        asgi_app(),
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        timeout_keep_alive=75,  # idle clients' kept connections (boto3's pool) are not closed under them
        timeout_graceful_shutdown=5,  # SIGTERM: a request still waiting for its body does not hold the stop
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
