"""Keep Python's cycle collector off the objects a command's set-up leaves behind.

Why: opening the catalog and the store imports SQLAlchemy, pydantic and botocore, whose
modules and service models (some 100,000 objects) live until the process exits. A full
collection during a backup or a restore walks every one of them for nothing: one took
about 50 ms of a 1,000,000-row backup here, and freezing them shortened the backup's
median wall time from 1.90 s to 1.81 s (8 runs each, benchmarks/README.md). Garbage made
later is collected as usual, so a long backup's memory stays bounded.
"""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``).

    Call it once the command's services are built and before its long operation.
    """
    gc.freeze()


def release_heap() -> None:
    """Give the frozen objects back to the collector (``gc.unfreeze``).

    ``main`` calls it when a command ends, so that a process running several commands
    (the tests do) frees cyclic garbage among them; the console script exits at once.
    """
    gc.unfreeze()
