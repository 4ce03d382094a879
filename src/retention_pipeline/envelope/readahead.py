"""Read a byte stream ahead in a background thread, through a bounded queue.

Why: a backup's producer (a database COPY: socket reads and driver work) and its consumer
(tar framing, hashing, zstd, which releases the GIL) are each about half of the work; run
one after the other they leave one of the two cores idle. ``read_ahead`` lets the producer
run up to ``depth`` chunks ahead of the consumer, so both cores work (DESIGN section 9,
"overlap dump, compression and upload on the two cores").

Rules this module enforces:

* memory stays bounded: at most ``depth`` chunks wait in the queue, plus one in each hand;
* the source iterator is only ever advanced and closed by the background thread (a
  generator must not be resumed from two threads), and it is closed when the consumer
  stops early, so a database cursor or file is released;
* an exception raised by the source reaches the consumer unchanged, at the position where
  the source failed (chunks produced before it are still delivered first);
* the consumer never returns while the background thread still runs.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

DEFAULT_DEPTH = 8
_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _Failed:
    error: BaseException


_END = object()


def read_ahead(chunks: Iterable[bytes], *, depth: int = DEFAULT_DEPTH) -> Iterator[bytes]:
    """Yield the chunks of ``chunks`` in order, produced by a background thread."""
    slots: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(chunks)
        try:
            for chunk in source:
                if not put(chunk):
                    return
            put(_END)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put(_Failed(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield cast(bytes, item)
    finally:
        stop.set()
        _drain(slots)
        worker.join()


def _drain(slots: queue.Queue[object]) -> None:
    """Empty the queue so a producer blocked on ``put`` sees ``stop`` promptly."""
    while True:
        try:
            slots.get_nowait()
        except queue.Empty:
            return
