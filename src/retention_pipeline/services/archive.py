"""Copy recovery points onto the client's archive store (DESIGN section 4, "Archive").

Ordering, which every change here must keep: select (one point per ``archive.every``
period) -> refuse an archive store equal to the backup store -> stream the object from
the backup store to the archive store, with the archive's storage class and lock, while
hashing it -> read the copy back and compare size and SHA-256 with the recovery point's
-> only then record the archive copy. A copy that fails the comparison is deleted
(every version) and the run fails.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from retention_pipeline.domain.archive_selection import Candidate, select_for_archive
from retention_pipeline.domain.object_keys import archive_key
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.errors import RefusedError, RetentionError
from retention_pipeline.ports.catalog import (
    CLIENT_LOCK_WAIT,
    ArchiveCopy,
    Catalog,
    NewArchiveAttempt,
    NewArchiveCopy,
    RecoveryPoint,
)
from retention_pipeline.ports.store import ObjectLock, ObjectStore
from retention_pipeline.services.client_keys import SYSTEM_ACTOR
from retention_pipeline.services.objects import HashingStream, purge_object
from retention_pipeline.services.policies import current_policy
from retention_pipeline.services.tombstones import tombstone


class ArchiveVerificationError(RetentionError):
    """The archive copy differs from its recovery point; it was removed."""


class ArchiveSourceCorruptError(RetentionError):
    """The recovery point's own object no longer matches its catalog row; not archived."""


@dataclass(frozen=True)
class ArchiveRun:
    """What one client's archive run did (ids only)."""

    client_id: str
    copied: list[str]
    skipped_reason: str | None = None


@dataclass
class ArchiveService:
    """Archive due recovery points; wired by bootstrap."""

    catalog: Catalog
    store: Callable[[str], ObjectStore]
    clock: Callable[[], datetime]
    new_id: Callable[[], str]

    def due(self, client_id: str, now: datetime) -> list[str]:
        """Recovery point ids that the client's policy says to archive now."""
        policy = self._policy(client_id)
        if policy is None:
            return []
        points = self.catalog.list_recovery_points(client_id, statuses=["complete"])
        copies = [c for c in self.catalog.list_archive_copies(client_id) if c.status == "present"]
        by_id = {p.id: p for p in self.catalog.list_recovery_points(client_id)}
        archived = [
            by_id[c.recovery_point_id].created_at for c in copies if c.recovery_point_id in by_id
        ]
        assert policy.archive.every is not None  # enforced by policy validation
        return select_for_archive(
            [Candidate(p.id, p.created_at) for p in points], archived, policy.archive.every, now
        )

    def archive_client(self, client_id: str) -> ArchiveRun:
        """Copy every due recovery point of one client; idempotent across reruns.

        Under the client's lock (``Catalog.client_lock``), like ``copy``.
        """
        with self.catalog.client_lock(client_id, "archive", wait=CLIENT_LOCK_WAIT):
            policy = self._policy(client_id)
            if policy is None:
                return ArchiveRun(client_id, [], "archive option is off")
            due = self.due(client_id, self.clock())
            return ArchiveRun(client_id, [self._copy(policy, rp_id).id for rp_id in due])

    def copy(self, policy: ClientPolicy, rp_id: str) -> ArchiveCopy:
        """Copy one recovery point, verify the copy, and record it (under the lock)."""
        with self.catalog.client_lock(policy.client, "archive", wait=CLIENT_LOCK_WAIT):
            return self._copy(policy, rp_id)

    def _copy(self, policy: ClientPolicy, rp_id: str) -> ArchiveCopy:
        rp = self.catalog.get_recovery_point(rp_id)
        target_name = policy.archive.storage
        if target_name is None or target_name == rp.store:
            raise RefusedError(
                f"client {policy.client!r}: the archive store must differ from the backup "
                f"store {rp.store!r}; set archive.storage to a separate store"
            )
        target = self.store(target_name)
        target.probe()  # an unreachable or misconfigured archive store fails before reading
        now = self.clock()
        lock = None
        if policy.archive.lock is not None:
            until = now + timedelta(days=policy.archive.lock.days)
            lock = ObjectLock(mode=policy.archive.lock.mode, until=until)
        key = archive_key(policy.client, rp.id)
        copy_id = self.new_id()
        # the attempt's row comes before the first byte, as a backup's pending row does:
        # a run killed from here on leaves a row that cleanup finds (``cleanup_client``)
        self.catalog.start_archive_attempt(
            NewArchiveAttempt(
                copy_id, policy.client, rp.id, target_name, key, now, lock.until if lock else None
            )
        )
        try:
            record = self._write_copy(policy, rp, target, target_name, key, copy_id, lock, now)
        except BaseException as exc:
            with suppress(Exception):  # the failure itself is what the caller must see
                reason = f"{type(exc).__name__}: the copy was not recorded"
                self.catalog.finish_archive_attempt(copy_id, "failed", self.clock(), reason)
            raise
        self.catalog.append_evidence(
            SYSTEM_ACTOR,
            "archive.copied",
            {"client": policy.client, "recovery_point": rp.id, "archive_copy": record.id},
            {"store": target_name, "sha256": record.sha256, "lock_until": _iso(record.lock_until)},
            self.clock(),
        )
        return record

    def _write_copy(
        self,
        policy: ClientPolicy,
        rp: RecoveryPoint,
        target: ObjectStore,
        target_name: str,
        key: str,
        copy_id: str,
        lock: ObjectLock | None,
        now: datetime,
    ) -> ArchiveCopy:
        """Stream the object over, read it back, and record the copy with its attempt."""
        hashed = HashingStream(self.store(rp.store).get(rp.key, rp.version_id))
        stored = target.put(key, hashed, size_hint=rp.size, storage_class=None, lock=lock)
        if (hashed.size, hashed.sha256) != (rp.size, rp.sha256):
            purge_object(target, key)
            raise ArchiveSourceCorruptError(
                f"recovery point {rp.id} was not archived: its stored object no longer "
                "matches the size and SHA-256 recorded when it was taken; check it "
                f"(retention-pipeline verify {rp.id}) and take a new backup"
            )
        back = target.head(key, stored.version_id)
        if (back.size, back.sha256) != (rp.size, rp.sha256):
            purge_object(target, key)
            raise ArchiveVerificationError(
                f"archive copy of recovery point {rp.id} in store {target_name!r} does not "
                "match it (size or SHA-256); the copy was removed, the run must be retried"
            )
        return self.catalog.add_archive_copy(
            NewArchiveCopy(
                id=copy_id,
                recovery_point_id=rp.id,
                client_id=policy.client,
                store=target_name,
                key=key,
                version_id=stored.version_id,
                size=back.size,
                sha256=back.sha256,
                created_at=now,
                storage_class=back.storage_class,
                lock_mode=lock.mode if lock else None,
                lock_until=lock.until if lock else None,
                attempt_id=copy_id,
            )
        )

    def _policy(self, client_id: str) -> ClientPolicy | None:
        """The policy in force if its archive option is on; never for an erased client
        (its last version, scrubbed, still reads as on: ``services.tombstones``)."""
        policy = current_policy(self.catalog, client_id)
        if policy is None or not policy.archive_active:
            return None
        if tombstone(self.catalog, client_id) is not None:
            return None
        return policy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
