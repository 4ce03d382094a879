"""A progress line for long operations on a terminal; silent anywhere else.

Logs (Airflow task logs, CI) must not fill with carriage returns, so the bar is drawn
only when stderr is a terminal. It shows bytes and throughput, never names or data.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def byte_progress(label: str, stream: TextIO | None = None) -> Callable[[int], None] | None:
    """A callback drawing ``label: 12.3 MiB (45.6 MiB/s)``, or ``None`` when not a tty."""
    out = stream or sys.stderr
    if not out.isatty():
        return None
    start = time.monotonic()
    last = 0.0

    def update(done: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < 0.2:
            return
        last = now
        rate = done / max(now - start, 1e-6) / 2**20
        out.write(f"\r{label}: {done / 2**20:8.1f} MiB ({rate:6.1f} MiB/s)")
        out.flush()

    return update


def finish_progress(stream: TextIO | None = None) -> None:
    """End the progress line so the next output starts on a fresh line."""
    out = stream or sys.stderr
    if out.isatty():
        out.write("\n")
