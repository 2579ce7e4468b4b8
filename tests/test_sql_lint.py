"""sqlfluff (Redshift dialect, settings in .sqlfluff) on include/sql runs in `make lint`, which
`make test` runs first (and pre-commit before each commit); here: the settings catch a violation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_sqlfluff_would_catch_a_violation(tmp_path):
    """A probe file outside the source tree, linted with the project's .sqlfluff: lower-case
    keywords (CP01 under the project's upper-case policy) and a double space (LT01)."""
    bad = tmp_path / "_lint_probe.sql"
    bad.write_text("select userId,  ts from staging_events\n")
    proc = subprocess.run(
        [sys.executable, "-m", "sqlfluff", "lint", "--format", "json", "--config", str(REPO / ".sqlfluff"), str(bad)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0, proc.stderr
    codes = {v["code"] for v in json.loads(proc.stdout)[0]["violations"]}
    assert {"CP01", "LT01"} <= codes, codes
