"""The object store port: where the bytes of recovery points and archive copies live.

Contract (every adapter obeys it, and ``tests/stores/test_store_contract.py`` checks it
against every adapter):

* Keys are relative, ``/``-separated, with no ``..`` segment, no leading ``/``, no NUL
  and no empty segment. A bad key raises ``InvalidKeyError`` before any I/O.
* ``put`` streams: it holds at most three parts of the object in memory (two in
  flight, one being read; a part is ``part_size_for(size)``). It computes a running
  SHA-256 of the bytes it stores, keeps it with the object and returns it. A put that
  fails midway leaves no visible object; what it did leave (an unfinished upload) is
  found and removed by ``abort_unfinished_uploads``. A put is not idempotent (on a
  versioned store it adds a version) but retrying it after a failure is safe.
* ``get`` streams the stored bytes in chunks; ``head`` reads size and SHA-256 without
  the body.
* ``list_versions`` lists every version and delete marker under a prefix, so erasure and
  retention can delete *everything*; on an unversioned store each object has one version
  whose id is ``"null"``.
* ``delete_version`` and ``delete_versions`` are idempotent: deleting what is already gone
  succeeds. ``delete_versions`` sends at most ``MAX_DELETE_BATCH`` keys per request, a
  bound our code enforces because some S3 look-alikes do not.
* Errors: ``NotFoundError`` and ``StorePermissionError`` are permanent and never retried;
  ``TransientStoreError`` (throttling, 5xx, timeouts, dropped connections) is retryable.
  Adapters translate SDK errors into these; callers never see boto3 exceptions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Literal, Protocol, runtime_checkable

from retention_pipeline.errors import NotFoundError, RetentionError

MAX_DELETE_BATCH = 1000
MIN_PART_SIZE = 8 * 1024 * 1024
MAX_PARTS = 10_000
NULL_VERSION = "null"

LockMode = Literal["governance", "compliance"]


class StoreError(RetentionError):
    """Base of every error an object store adapter raises."""


class InvalidKeyError(StoreError):
    """A key that could escape its store or its client's prefix; refused before any I/O."""

    exit_code = 2


class StorePermissionError(StoreError):
    """The store refused access (403 and the like): permanent, never retried."""


class TransientStoreError(StoreError):
    """Throttling, a 5xx answer, a timeout or a dropped connection: safe to retry."""


class ObjectNotFoundError(StoreError, NotFoundError):
    """No such key or version: permanent, never retried.

    Exit code 1: the catalog named this object, so its absence is a failure of the store
    (or a tampering), not a typo of the operator's.
    """

    exit_code = 1


class ObjectLockedError(StoreError):
    """The version is under an unexpired retention lock or legal hold: permanent."""


class LockNotSupportedError(StoreError):
    """The store cannot lock or hold versions; configure one with ``object_lock: true``."""

    exit_code = 2

    def __init__(self, store: str, action: str, why: str) -> None:
        super().__init__(
            f"store {store!r} {why}, cannot {action}; "
            "use an S3 store configured with object_lock: true for locked archives"
        )
        self.store = store


class LockedVersionsError(ObjectLockedError):
    """A batch delete removed what it could; ``locked`` are still under lock or hold.

    Erasure needs both lists: what is gone goes into the certificate as deleted, what is
    locked is listed with the date its lock ends.
    """

    def __init__(
        self,
        store: str,
        deleted: list[tuple[str, str]],
        locked: list[tuple[str, str]],
    ) -> None:
        shown = ", ".join(f"{key} (version {version})" for key, version in locked[:3])
        more = f" and {len(locked) - 3} more" if len(locked) > 3 else ""
        super().__init__(
            f"store {store!r}: {len(locked)} version(s) are under a retention lock or legal "
            f"hold and were not deleted: {shown}{more}; wait for the lock to end or lift the "
            "hold, then delete again"
        )
        self.store = store
        self.deleted = deleted
        self.locked = locked


def part_size_for(size: int | None) -> int:
    """Part size for a multipart upload of ``size`` bytes: max(8 MiB, ceil(size / 10000)).

    S3 allows at most 10,000 parts, so large objects need larger parts; below that the
    8 MiB floor keeps request counts low while bounding the memory one part costs.
    """
    if not size:
        return MIN_PART_SIZE
    return max(MIN_PART_SIZE, math.ceil(size / MAX_PARTS))


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ``InvalidKeyError``."""
    if not key or "\x00" in key:
        raise InvalidKeyError(f"object key {key!r} is empty or contains NUL; use a relative key")
    if key.startswith("/") or key.startswith("\\"):
        raise InvalidKeyError(f"object key {key!r} is absolute; use a relative key")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise InvalidKeyError(
            f"object key {key!r} has an empty, '.' or '..' segment or a backslash; "
            "use plain '/'-separated names"
        )
    return key


@dataclass(frozen=True)
class ObjectLock:
    """A retention lock to put on a stored version."""

    mode: LockMode
    until: datetime


@dataclass(frozen=True)
class StoredObject:
    """What a store knows about one stored version, returned by ``put`` and ``head``."""

    key: str
    version_id: str
    size: int
    sha256: str
    last_modified: datetime
    storage_class: str | None = None
    lock: ObjectLock | None = None
    legal_hold: bool = False


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of ``list_versions``: a version of an object, or a delete marker."""

    key: str
    version_id: str
    is_delete_marker: bool
    is_latest: bool
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class UnfinishedUpload:
    """A multipart upload (or a folder store's temporary file) that never completed."""

    key: str
    upload_id: str
    initiated: datetime


@dataclass(frozen=True)
class StoreCapabilities:
    """What a store can do; tests and services branch on these, never on the adapter type."""

    versioning: bool
    object_lock: bool
    storage_classes: bool


@runtime_checkable
class ObjectStore(Protocol):
    """A named place for bytes. See the module docstring for the full contract."""

    name: str
    location: str | None
    capabilities: StoreCapabilities

    def put(
        self,
        key: str,
        data: BinaryIO | Iterable[bytes],
        *,
        size_hint: int | None = None,
        storage_class: str | None = None,
        lock: ObjectLock | None = None,
    ) -> StoredObject:
        """Stream ``data`` into ``key``; return the stored version with its SHA-256."""
        ...

    def probe(self) -> None:
        """Check, cheaply and without writing, that the store can take a backup now.

        Raises a ``StoreError`` that says what to fix (a missing bucket or folder, no
        access, versioning off), so a backup fails in a moment, not after its dump.
        """
        ...

    def get(self, key: str, version_id: str | None = None) -> Iterator[bytes]:
        """Stream the bytes of ``key`` (latest version unless ``version_id``)."""
        ...

    def head(self, key: str, version_id: str | None = None) -> StoredObject:
        """Size, SHA-256, lock and storage class of a version, without its body."""
        ...

    def list_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """Every version and delete marker under ``prefix``, in key order."""
        ...

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version for good; idempotent; ``ObjectLockedError`` if locked."""
        ...

    def delete_versions(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Delete many (key, version_id) pairs, at most 1000 a request; return the deleted."""
        ...

    def list_unfinished_uploads(self, prefix: str = "") -> Iterator[UnfinishedUpload]:
        """Uploads started under ``prefix`` that never completed."""
        ...

    def abort_unfinished_uploads(self, prefix: str = "") -> int:
        """Abort every unfinished upload under ``prefix``; return how many. Idempotent."""
        ...

    def set_lock(self, key: str, version_id: str, lock: ObjectLock) -> None:
        """Put (or extend) a retention lock on a version, where the store supports it."""
        ...

    def set_legal_hold(self, key: str, version_id: str, on: bool) -> None:
        """Put or lift a legal hold on a version, where the store supports it."""
        ...
