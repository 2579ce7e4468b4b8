"""The staging SQL of include/sql/staging, rendered for one engine.

The files are Jinja templates: ``{{ name }}`` is an identifier or SQL fragment the engine
fills in (table names come from ``sources.SOURCES``, column names are checked), and
``{{ param("name") }}`` is a bound parameter, rendered as ``%(name)s`` for the driver
(psycopg, or redshift_connector with paramstyle ``pyformat``).
"""

from __future__ import annotations

import re
from functools import cache

from include.sparkify import config

DIRECTORY = config.SQL_DIR / "staging"
_COLUMN = re.compile(r"[a-z_][a-z0-9_]*")


@cache
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(DIRECTORY), undefined=jinja2.StrictUndefined, autoescape=False
    )


def param(name: str) -> str:
    return f"%({name})s"


def render(name: str, **fragments: object) -> list[str]:
    """The statements of ``include/sql/staging/<name>.sql``: comment lines dropped, then
    split on ``;`` at a line end (so a comment ending in ``;`` splits nothing)."""
    text = _environment().get_template(f"{name}.sql").render(param=param, **fragments)
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement for part in re.split(r";\s*\n", code + "\n") if (statement := part.strip().rstrip(";"))]


def column(name: str) -> str:
    """A column name safe to put into SQL as it is."""
    from include.sparkify.staging.sources import StagingError

    if not _COLUMN.fullmatch(name):
        raise StagingError(f"unexpected column name {name!r}")
    return name
