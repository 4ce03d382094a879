"""Run one backup in this process with a real store that stalls at a chosen point.

Usage: ``python -m tests.backup.stalled_backup HOME CLIENT PHASE MARKER``

* ``upload``: the store's ``put`` receives its bytes slowly: after ``STALL_AFTER`` bytes
  (more than one multipart part, so an S3 multipart upload is open and a folder store's
  partial file exists) it touches MARKER and waits forever;
* ``catalog``: the object is fully stored, then ``head`` (the read-back before the
  catalog row becomes complete) touches MARKER and waits forever.

The crash tests SIGKILL this process once MARKER exists. Production code has no hook
for this: the store is the installation's own adapter, turned into a test subclass
whose only change is a slowed write or read.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from retention_pipeline import bootstrap
from retention_pipeline.ports.store import ObjectStore, StoredObject

STALL_AFTER = 9 * 1024 * 1024  # past the first 8 MiB part


def stall_forever(marker: Path) -> None:
    """Say where we are, then wait for the test's SIGKILL."""
    marker.touch()
    while True:
        time.sleep(60)


def stalling(store: ObjectStore, phase: str, marker: Path) -> ObjectStore:
    """``store`` turned into a subclass of its own adapter that stalls at ``phase``."""
    base: Any = type(store)

    class Stalling(base):  # type: ignore[misc]
        def put(self, key: str, data: Iterable[bytes], **kwargs: Any) -> StoredObject:
            if phase == "upload":
                data = _stall_after(data, marker)
            result: StoredObject = super().put(key, data, **kwargs)
            return result

        def head(self, key: str, version_id: str | None = None) -> StoredObject:
            if phase == "catalog":
                stall_forever(marker)
            result: StoredObject = super().head(key, version_id)
            return result

    store.__class__ = Stalling
    return store


def _stall_after(data: Iterable[bytes], marker: Path) -> Iterator[bytes]:
    sent = 0
    for chunk in data:
        if sent >= STALL_AFTER:
            stall_forever(marker)
        sent += len(chunk)
        yield chunk


def main(home: str, client: str, phase: str, marker: str) -> None:
    """Back ``client`` up with the stalling store."""
    installation = bootstrap.load_installation(home)

    def store(name: str) -> ObjectStore:
        return stalling(installation.store(name), phase, Path(marker))

    service = replace(installation.backup_service(), store=store)
    service.backup(client, requested_by="crash-test")


if __name__ == "__main__":
    main(*sys.argv[1:5])
