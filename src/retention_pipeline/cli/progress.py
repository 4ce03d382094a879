"""A progress line for long operations on a terminal; silent anywhere else.

Logs (Airflow task logs, CI) must not fill with carriage returns, so the line is drawn
only when stderr is a terminal. It shows the phase, bytes, percentage and throughput,
never names or data: the services report fixed phase words and byte counts only
(``services/progress.py``), and the label is an opaque id.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from retention_pipeline.services.progress import Progress

MIB = 2**20
REDRAW_SECONDS = 0.2


class ProgressLine:
    """Redraw one line, ``label phase: done / total MiB  pct% (rate MiB/s)``, in place.

    A phase's first and last reports are always drawn; reports in between at most every
    ``REDRAW_SECONDS``. The rate is that of the current phase. Reports may come from a
    worker thread (the restore's verification re-dump), so drawing takes a lock.
    """

    def __init__(self, label: str, stream: TextIO) -> None:
        self.label = label
        self.stream = stream
        self._lock = threading.Lock()
        self._phase: str | None = None
        self._started = 0.0
        self._drawn_at = 0.0
        self._width = 0

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        with self._lock:
            now = time.monotonic()
            if phase != self._phase:
                self._phase, self._started = phase, now
            elif done != total and now - self._drawn_at < REDRAW_SECONDS:
                return
            self._drawn_at = now
            self._draw(self.render(phase, done, total, now - self._started))

    def render(self, phase: str, done: int, total: int | None, seconds: float) -> str:
        """The line's text for a report (no carriage return, no padding)."""
        rate = done / MIB / seconds if seconds > 0 else 0.0
        amount = f"{done / MIB:8.1f} MiB"
        if total is not None:
            share = 100.0 if total == 0 else min(100.0, 100.0 * done / total)
            amount = f"{done / MIB:8.1f} / {total / MIB:.1f} MiB {share:3.0f}%"
        return f"{self.label} {phase}: {amount} ({rate:6.1f} MiB/s)"

    def _draw(self, text: str) -> None:
        # pad over what a longer earlier line left on the screen
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def finish(self) -> None:
        """End the line, if one was drawn, so the next output starts on a fresh line."""
        with self._lock:
            if self._width:
                self.stream.write("\n")
                self.stream.flush()
                self._width = 0


@contextmanager
def progress_shown(label: str, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """A progress callback for the block, or ``None`` when ``stream`` (stderr) is no tty.

    Leaving the block ends the line, also on an error, so that an error message starts
    on its own line instead of after the bar.
    """
    out = stream or sys.stderr
    line = ProgressLine(label, out) if out.isatty() else None
    try:
        yield line
    finally:
        if line is not None:
            line.finish()
