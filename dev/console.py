"""Progress lines for the command-line tools (make run, make bench, the s3-seed service of
`astro dev start`, make copy-udacity): one line per step, timestamped, printed at once.

Standard library only: the s3-seed service imports it in the moto image (no Airflow)."""

from __future__ import annotations

import time


def say(message: str, tag: str = "") -> None:
    """Print ``[HH:MM:SS] message``, or ``[<tag> HH:MM:SS] message``, and flush."""
    stamp = time.strftime("%H:%M:%S")
    print(f"[{tag} {stamp}] {message}" if tag else f"[{stamp}] {message}", flush=True)
