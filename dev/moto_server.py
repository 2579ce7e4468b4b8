"""moto's S3 server, as the local S3 stand-in, with three per-request costs removed.

Profiling `moto_server` under the staging load (py-spy, 2,000 PUTs and GETs of small
objects) showed about a third of its time going to work whose answer never changes:

* finding the service for a request: `DomainDispatcherApplication.get_backend_for_host`
  lists moto's package directory (`backends.list_of_moto_modules`) and then tries the URL
  patterns of every AWS service in turn, under a lock;
* logging every request line through werkzeug's logger.

This launcher memoises the first two per host and keeps werkzeug's request log at WARNING;
everything else is moto's own server (`moto.server.main`), with the same arguments.
"""

from __future__ import annotations

import logging
import sys


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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    from moto.server import main as moto_main

    patch_moto()
    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
