"""docs/reliability.md is generated from the test cases and kept up to date."""

from __future__ import annotations

from tests.reliability_report import DOC, render


def test_reliability_doc_is_current():
    assert DOC.read_text() == render(), "run: python -m tests.reliability_report"
