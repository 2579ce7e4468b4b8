"""`make sql Q="select ..."`: run a query on the local warehouse and print the rows."""

from __future__ import annotations

import sys

import psycopg

from dev.stack import Stack


def main(argv: list[str]) -> int:
    if not argv or not argv[0].strip():
        print('usage: make sql Q="select count(*) from songplays"', file=sys.stderr)
        return 2
    with psycopg.connect(Stack.from_env().warehouse_dsn(), autocommit=True) as conn:
        cur = conn.execute(argv[0])
        if cur.description is None:
            print(cur.statusmessage)
            return 0
        header = [c.name for c in cur.description]
        rows = [["" if v is None else str(v) for v in row] for row in cur.fetchall()]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
        print(" | ".join(h.ljust(w) for h, w in zip(header, widths)))
        print("-+-".join("-" * w for w in widths))
        for row in rows:
            print(" | ".join(v.ljust(w) for v, w in zip(row, widths)))
        print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
