"""sqlfluff (Redshift dialect, settings in .sqlfluff) finds nothing in include/sql."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_sqlfluff_redshift_clean():
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "include/sql").rglob("*.sql"))
    assert len(files) >= 14
    proc = subprocess.run([sys.executable, "-m", "sqlfluff", "lint", "--format", "json", *files],
                          cwd=REPO, capture_output=True, text=True)
    results = json.loads(proc.stdout)
    assert {r["filepath"] for r in results} == set(files)
    violations = [f"{r['filepath']}:{v['start_line_no']}: {v['code']} {v['description']}"
                  for r in results for v in r["violations"]]
    assert violations == []
    assert proc.returncode == 0, proc.stderr


def test_sqlfluff_would_catch_a_violation(tmp_path):
    bad = REPO / "include/sql/load/_lint_probe.sql"
    bad.write_text("select userId,  ts from staging_events\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "sqlfluff", "lint", "--format", "json", str(bad)],
                              cwd=REPO, capture_output=True, text=True)
    finally:
        bad.unlink()
    assert proc.returncode != 0
    assert json.loads(proc.stdout)[0]["violations"]
