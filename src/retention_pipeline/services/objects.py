"""Operations on one stored object that several use cases share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from retention_pipeline.ports.store import ObjectStore


def purge_object(store: ObjectStore, key: str) -> int:
    """Delete every version and delete marker of exactly ``key``; return how many.

    Deleting only the latest version of a versioned object would leave older versions
    readable, so backups, archives and retention always remove all of them. Listing by
    the key as a prefix also lists longer keys, which are filtered out. Idempotent.
    """
    versions = [(v.key, v.version_id) for v in store.list_versions(key) if v.key == key]
    if versions:
        store.delete_versions(versions)
    return len(versions)


class HashingStream:
    """Pass bytes through to a store while counting and hashing them ourselves.

    What was sent is then compared with what the store says it holds (a backup's
    read-back, an archive copy's check against its recovery point).
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._hash.update(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes that went through so far."""
        return self._hash.hexdigest()
