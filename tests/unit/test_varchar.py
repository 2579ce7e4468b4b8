"""include/sparkify/varchar.py: text cut to fit a VARCHAR(n), counted in bytes as Redshift does."""

from __future__ import annotations

import pytest

from include.sparkify.varchar import fit


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 5, "abc"),
        ("abcdef", 3, "abc"),
        ("", 3, ""),
        ("Beyoncé", 7, "Beyonc"),  # é is 2 bytes: 'Beyoncé' is 8 bytes, never half of it
        ("Beyoncé", 8, "Beyoncé"),
        ("日本語", 7, "日本"),  # 3 bytes each
        ("日本語", 2, ""),
        ("a😀b", 5, "a😀"),  # 4 bytes
    ],
)
def test_fit_cuts_at_a_character_boundary_within_the_bytes(text, limit, expected):
    assert fit(text, limit) == expected


def test_fit_is_the_longest_such_start():
    text = "Motörhead – Ace of Spades 😀 " * 40
    for limit in range(0, 200):
        cut = fit(text, limit)
        assert text.startswith(cut) and len(cut.encode()) <= limit
        assert len(text[: len(cut) + 1].encode()) > limit  # one more character would not fit
