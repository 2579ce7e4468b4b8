"""Text into VARCHAR(n) columns. Redshift counts a VARCHAR's length in bytes, not characters,
and refuses a longer value rather than cutting it ("VARCHAR(n) ... n bytes", and storing a
longer string "results in an error":
https://docs.aws.amazon.com/redshift/latest/dg/r_Character_types.html). PostgreSQL counts
characters, so a value cut by characters passes locally and fails on Redshift as soon as it
holds one multi-byte character: cut by bytes, for both engines."""

from __future__ import annotations


def fit(text: str, limit: int) -> str:
    """The longest start of ``text`` whose UTF-8 encoding fits ``limit`` bytes (never half a character)."""
    return text.encode()[:limit].decode("utf-8", "ignore")
