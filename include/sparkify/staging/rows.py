"""The PostgreSQL engine's fast path: one JSON line -> one staging row, in Python.

A record goes straight into the binary ``COPY`` when it is plainly valid: a JSON object
whose mapped values already have their column's type (a ``str`` within the VARCHAR
length, an ``int`` in range, a number for a float column, or null) and that breaks none
of the staging rules. Anything else (a string where a number belongs, a number where a
string belongs, malformed JSON, a broken rule) is left to PostgreSQL's own parsing in
``include/sql/staging/postgres/check_records.sql``, which decides and gives the reject reason.

So this module only has to be conservative: a record it wrongly calls suspect is still
staged correctly, only more slowly; it must never pass a record PostgreSQL would refuse.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass

# PostgreSQL column type -> (the check a Python value must pass, COPY binary type).
_VARCHAR = re.compile(r"character varying\((\d+)\)")
_INT_RANGE = {"smallint": 15, "integer": 31, "bigint": 63}
_COPY_TYPE = {
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "double precision": "float8",
    "text": "text",
    "character varying": "varchar",
}
FLOAT_EXACT_INT = 2**53  # ints beyond this are left to PostgreSQL's numeric -> float8


def value_check(var: str, pg_type: str) -> tuple[str, str] | None:
    """(Python condition on ``var``, COPY type) for a column type, or None if unsupported."""
    if m := _VARCHAR.fullmatch(pg_type):
        # VARCHAR(n) holds n bytes of UTF-8, as on Redshift (a string of n // 4 characters
        # always fits; longer ones are measured).
        n = int(m.group(1))
        return (
            f"({var} is None or (type({var}) is str and (len({var}) <= {n // 4} or "
            f"(len({var}) <= {n} and len({var}.encode()) <= {n}))))"
        ), "varchar"
    if pg_type in ("text", "character varying"):
        return f"({var} is None or type({var}) is str)", _COPY_TYPE[pg_type]
    if pg_type in _INT_RANGE:
        bound = 2 ** _INT_RANGE[pg_type]
        return f"({var} is None or (type({var}) is int and {-bound} <= {var} < {bound}))", _COPY_TYPE[pg_type]
    if pg_type == "double precision":
        return (
            # a normal finite float (0.0, subnormals, inf and nan, which orjson may make of
            # out-of-range text such as 1e-400, are left to PostgreSQL's float8 input)
            f"({var} is None or (type({var}) is float and 2.2250738585072014e-308 <= abs({var}) <= "
            f"1.7976931348623157e308) or "
            f"(type({var}) is int and {-FLOAT_EXACT_INT} <= {var} <= {FLOAT_EXACT_INT}))"
        ), "float8"
    return None


@dataclass(frozen=True)
class RowMapper:
    """``mapper(line) -> list | None``: the row for a plainly valid JSON line, else None."""

    copy_types: list[str]
    source: str  # the generated function, for reading and tests
    _fn: Callable[[bytes], list | None]

    def __call__(self, line: bytes) -> list | None:
        return self._fn(line)


def compile_mapper(
    columns: list[tuple[str, str]],
    fields: list[str | None],
    rules: list[str],
    drift: Callable[[dict], None] | None = None,
) -> RowMapper | None:
    """A mapper for a staging table, or None when some column cannot take the fast path.

    ``columns``: (name, PostgreSQL type) in COPY order; ``fields``: the JSON key each column
    takes (None: not a top-level key, e.g. a nested jsonpath); ``rules``: Python conditions
    over the column names that reject a row when true (see sources.RULES); ``drift``: called
    with every JSON object whose keys are not exactly ``fields`` (schema drift, drift.py).
    """
    import orjson

    checks, copy_types = [], []
    for (name, pg_type), field in zip(columns, fields, strict=True):
        check = value_check(name, pg_type)
        if field is None or check is None or not name.isidentifier() or keyword.iskeyword(name):
            return None
        checks.append(check[0])
        copy_types.append(check[1])
    names = [name for name, _ in columns]
    lines = [
        "def mapper(line):",
        "    if b'\\\\u0000' in line:",  # PostgreSQL text cannot hold NUL: let it reject the record
        "        return None",
        "    try:",
        "        o = loads(line)",
        "    except JSONDecodeError:",
        "        return None",
        "    if type(o) is not dict:",
        "        return None",
        *(["    if o.keys() != mapped_keys:", "        drift(o)"] if drift is not None else []),
        "    get = o.get",
        *(f"    {name} = get({field!r})" for name, field in zip(names, fields)),
        "    if not (" + "\n            and ".join(checks) + "):",
        "        return None",
    ]
    if rules:
        lines += ["    if (" + ") or (".join(rules) + "):", "        return None"]
    lines.append(f"    return [{', '.join(names)}]")
    source = "\n".join(lines)
    namespace = {
        "loads": orjson.loads,
        "JSONDecodeError": orjson.JSONDecodeError,
        "re": re,
        "drift": drift,
        "mapped_keys": frozenset(fields),
    }
    exec(compile(source, "<staging row mapper>", "exec"), namespace)  # noqa: S102 - code built above
    return RowMapper(copy_types, source, namespace["mapper"])
