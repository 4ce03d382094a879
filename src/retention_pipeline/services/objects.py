"""Operations on one stored object that several use cases share."""

from __future__ import annotations

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
