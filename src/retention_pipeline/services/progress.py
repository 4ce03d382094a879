"""Progress of long operations: bytes done per phase, reported to whoever is watching.

Why a ``(phase, done, total)`` callback: the services know what they are doing and how
much of it there is (a download of ``size`` bytes, tables the manifest says hold so many
bytes); only the command line knows whether anyone is watching, and draws a bar on a
terminal (``cli/progress.py``). Airflow tasks pass no callback, so their logs stay quiet.

Phases are fixed words and counts are bytes: nothing reported here names a client, a
table or a value, so a callback may print it as it likes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

Progress = Callable[[str, int, int | None], None]
"""``progress(phase, bytes_done, bytes_total_or_None)``; ``None`` when the total is unknown."""


class Meter:
    """Count one phase's bytes and report each step; silent when there is no callback.

    Reports ``(phase, 0, total)`` as soon as it is created, so a watcher sees a phase
    start even before its first byte (a server may take seconds to answer a COPY).
    """

    def __init__(self, progress: Progress | None, phase: str, total: int | None = None) -> None:
        self._progress = progress
        self.phase = phase
        self.total = total
        self.done = 0
        if progress is not None:
            progress(phase, 0, total)

    def add(self, count: int) -> None:
        """Count ``count`` more bytes of this phase."""
        self.done += count
        if self._progress is not None:
            self._progress(self.phase, self.done, self.total)

    def watch(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` through unchanged, counting their bytes."""
        for chunk in chunks:
            self.add(len(chunk))
            yield chunk
