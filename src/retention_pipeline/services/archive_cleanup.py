"""Find what interrupted archive copies left in the archive stores, and remove what can go.

An archive attempt's row comes before its first byte (``ArchiveService``), so whatever a
copy killed half-way (or a PUT retried under faults) left behind lies under a key that
an attempt row names, and was written while that attempt ran. Such a version that no
``present`` copy row records is a leftover:

* unlocked, it is deleted;
* under a lock that ends after ``now`` (a compliance lock cannot be lifted by anyone),
  it stays, and is listed with its lock's end date each time until it can go; an
  erasure lists it among its residual copies, as it does every locked version;
* an attempt still ``pending`` after the grace period is marked ``failed`` (abandoned);
  any attempt of which nothing unrecorded is left becomes ``cleared``, and is never
  listed again (a ``done`` one too: a PUT retried under faults leaves its extra version
  while the attempt runs, so one look after it ended is enough).

A version written outside every attempt's time is not judged here: like an unknown
recovery point, it may be a copy a lost catalog recorded (``cleanup``'s
``--delete-unknown`` is about recovery points only). Young pending attempts (within the
grace period) are left alone: their copy may still be under way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from retention_pipeline.ports.catalog import ArchiveAttempt, Catalog, TransitionError
from retention_pipeline.ports.store import ObjectStore, ObjectVersion

# Store clocks and ours differ a little: a version stamped this much before its attempt
# started is still taken as written by it.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class ArchiveLeftovers:
    """What one client's archive cleanup found (ids, counts and dates only)."""

    deleted: int = 0
    locked: list[tuple[str, str, datetime]] = field(default_factory=list)  # store, key, until
    abandoned: list[str] = field(default_factory=list)  # attempt ids marked failed


def clean_archive_attempts(
    catalog: Catalog,
    client_id: str,
    store_of: Callable[[str], ObjectStore],
    now: datetime,
    cutoff: datetime,
) -> ArchiveLeftovers:
    """Delete or list the leftovers of the client's interrupted archive copies."""
    found = ArchiveLeftovers()
    attempts = catalog.list_archive_attempts(client_id)
    recorded = {
        (c.store, c.key, c.version_id)
        for c in catalog.list_archive_copies(client_id)
        if c.status == "present"
    }
    judged = [a for a in attempts if a.status != "cleared" and not _young(a, cutoff)]
    remaining: dict[tuple[str, str], int] = {}
    for store_name, key in sorted({(a.store, a.key) for a in judged}):
        store = store_of(store_name)
        windows = [a for a in judged if (a.store, a.key) == (store_name, key)]
        doomed: list[tuple[str, str]] = []
        for version in store.list_versions(key):
            if version.key != key or (store_name, key, version.version_id) in recorded:
                continue
            if not any(_written_during(version, a, cutoff) for a in windows):
                continue
            until = _lock_end(store, version, now)
            if until is not None:
                found.locked.append((store_name, key, until))
                remaining[(store_name, key)] = remaining.get((store_name, key), 0) + 1
            else:
                doomed.append((key, version.version_id))
        if doomed:
            found.deleted += len(store.delete_versions(doomed))
    for attempt in judged:
        try:
            if attempt.status == "pending":
                catalog.finish_archive_attempt(
                    attempt.id, "failed", now, "abandoned: found by cleanup"
                )
                found.abandoned.append(attempt.id)
            if not remaining.get((attempt.store, attempt.key)):
                catalog.finish_archive_attempt(attempt.id, "cleared", now, "nothing left")
        except TransitionError:
            continue  # it moved on since the read (its copy was recorded): not a leftover
    return found


def _young(attempt: ArchiveAttempt, cutoff: datetime) -> bool:
    return attempt.status == "pending" and attempt.started_at >= cutoff


def _written_during(version: ObjectVersion, attempt: ArchiveAttempt, cutoff: datetime) -> bool:
    """Whether the version was written while the attempt could have been writing."""
    end = attempt.finished_at or cutoff
    return attempt.started_at - CLOCK_SKEW <= version.last_modified <= end + CLOCK_SKEW


def _lock_end(store: ObjectStore, version: ObjectVersion, now: datetime) -> datetime | None:
    """When the version's lock ends, if it is still locked at ``now``."""
    if version.is_delete_marker or not store.capabilities.object_lock:
        return None
    lock = store.head(version.key, version.version_id).lock
    if lock is None or lock.until <= now:
        return None
    return lock.until
