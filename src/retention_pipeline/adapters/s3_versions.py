"""Deleting versions in batches, for ``S3Store``.

Rules this module enforces:

* ``DeleteObjects`` never carries more than ``MAX_DELETE_BATCH`` keys, whatever the
  server accepts; ``Quiet`` mode, so the answer lists only failures; at most
  ``DELETE_LANES`` such requests are in flight, and their outcomes are merged in order.
* A per-key "not found" is success (deletion is idempotent). A per-key ``AccessDenied``
  is a lock when the version's retention says so (``LockedVersionsError`` after every
  batch ran, carrying what was deleted), else a missing permission. Some servers (moto)
  omit the version id of an error entry; then each version of that key is checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING

from retention_pipeline.adapters.s3_errors import DENIED_CODES, NOT_FOUND_CODES, TRANSIENT_CODES
from retention_pipeline.ports.store import (
    MAX_DELETE_BATCH,
    LockedVersionsError,
    ObjectNotFoundError,
    StoreError,
    StorePermissionError,
    TransientStoreError,
)

if TYPE_CHECKING:
    from retention_pipeline.adapters.s3_store import S3Store

# DeleteObjects requests in flight at once (see ``VersionDeleter``)
DELETE_LANES = 4


def batched(items: Iterable[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    """Consecutive lists of at most ``size`` items (``itertools.batched`` is 3.12+)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class VersionDeleter:
    """One ``delete_versions`` call: batches, per-key outcomes, one error at the end.

    ``DELETE_LANES`` batches are in flight at once: a DeleteObjects request of 1000 keys
    waits on the server for most of its time, so a client with 100,000 versions is
    erased in a fraction of the time one batch after the other takes. Outcomes are
    merged in batch order, so what is reported does not depend on which finished first.
    """

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.deleted: list[tuple[str, str]] = []
        self.locked: list[tuple[str, str]] = []
        self.failed: dict[str, list[tuple[str, str]]] = {}

    def delete(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Delete every pair, then raise if any could not be deleted."""
        with ThreadPoolExecutor(DELETE_LANES, thread_name_prefix="s3-delete") as pool:
            outcomes = list(pool.map(self._delete_batch, batched(items, MAX_DELETE_BATCH)))
        for outcome in outcomes:
            for key, version, state in outcome:
                if state == "deleted":
                    self.deleted.append((key, version))
                elif state == "locked":
                    self.locked.append((key, version))
                else:
                    self.failed.setdefault(state, []).append((key, version))
        self._raise_failures()
        return self.deleted

    def _delete_batch(self, batch: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
        """(key, version, "deleted" / "locked" / the error code) for each pair."""
        store = self.store
        objects = [{"Key": store.s3_key(key), "VersionId": version} for key, version in batch]
        answer = store.call(
            f"DeleteObjects ({len(objects)} versions)",
            store.client.delete_objects,
            Bucket=store.bucket,
            Delete={"Objects": objects, "Quiet": True},
        )
        by_version: dict[tuple[str, str | None], str] = {}
        for error in answer.get("Errors", []):
            key = store.store_key(error.get("Key", ""))
            by_version[(key, error.get("VersionId"))] = str(error.get("Code", ""))
        return [
            (
                key,
                version,
                self._settle(
                    key, version, by_version.get((key, version), by_version.get((key, None)))
                ),
            )
            for key, version in batch
        ]

    def _settle(self, key: str, version: str, code: str | None) -> str:
        """ "deleted", "locked", or the code the pair failed with."""
        if code is None or code in NOT_FOUND_CODES:
            return "deleted"
        if code in DENIED_CODES:
            state = self._lock_state(key, version)
            if state == "gone":  # the error was about another version of the key
                return "deleted"
            if state == "locked":
                return "locked"
        return code

    def _lock_state(self, key: str, version: str) -> str:
        """Return "gone", "locked" (retention or legal hold) or "free", read by HEAD."""
        try:
            head = self.store.call(
                f"HeadObject {key}",
                self.store.client.head_object,
                Bucket=self.store.bucket,
                Key=self.store.s3_key(key),
                VersionId=version,
            )
        except ObjectNotFoundError:
            return "gone"
        except StoreError:
            return "free"  # e.g. a delete marker answers 405: it exists, it has no lock
        until = head.get("ObjectLockRetainUntilDate")
        held = head.get("ObjectLockLegalHoldStatus") == "ON"
        return "locked" if held or (until is not None and until > datetime.now(UTC)) else "free"

    def _raise_failures(self) -> None:
        name = self.store.name
        for code, pairs in self.failed.items():
            shown = ", ".join(f"{key} (version {version})" for key, version in pairs[:3])
            message = f"store {name!r}: {len(pairs)} version(s) not deleted ({code}): {shown}"
            if code in DENIED_CODES:
                raise StorePermissionError(
                    f"{message}; check that the credentials may s3:DeleteObjectVersion"
                )
            if code in TRANSIENT_CODES:
                raise TransientStoreError(f"{message}; run the deletion again")
            raise StoreError(message)
        if self.locked:
            raise LockedVersionsError(name, self.deleted, self.locked)
