"""Take one encrypted recovery point of one client (DESIGN section 4, "Backup").

Ordering, which every change here must keep:

1. refuse unless the client's policy activates backups (privacy by default);
2. choose recipients (the client key, plus the client's own) - only public keys;
3. write a ``pending`` catalog row (one per client and scheduled slot: a retry of the
   same slot takes the same row over instead of adding a second backup);
4. dump one consistent snapshot, pack it (manifest first), compress, encrypt, and
   stream it into the store while hashing the ciphertext;
5. read the stored object's size and SHA-256 back and compare them with our own hash;
6. only then mark the row ``complete``.

Any failure marks the row ``failed`` and removes what the attempt left in the store; a
crash that prevents even that leaves a ``pending`` row and, at most, an unfinished
upload or an unrecorded object, which ``cleanup`` finds and removes later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from retention_pipeline import __version__
from retention_pipeline.domain.object_keys import recovery_point_key
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.envelope.age import Recipient, encrypt_stream, encrypted_size_bound
from retention_pipeline.envelope.manifest import Manifest, ObjectEntry
from retention_pipeline.envelope.recovery_point import (
    DocumentSource,
    TableSource,
    documents_in,
    pack,
)
from retention_pipeline.envelope.spool import SealedSpool
from retention_pipeline.errors import NotFoundError, RefusedError, RetentionError
from retention_pipeline.ports.catalog import (
    CLIENT_LOCK_WAIT,
    DONE_ERASURES,
    Catalog,
    NewRecoveryPoint,
    RecoveryPoint,
    TransitionError,
)
from retention_pipeline.ports.source import Dumper
from retention_pipeline.ports.store import NULL_VERSION, ObjectStore, StoredObject
from retention_pipeline.services.client_keys import SYSTEM_ACTOR, ClientKeyring
from retention_pipeline.services.objects import HashingStream, purge_object
from retention_pipeline.services.policies import current_policy
from retention_pipeline.services.progress import Meter, Progress


class BackupVerificationError(RetentionError):
    """The stored object does not match what was uploaded; the backup is not complete."""


@dataclass(frozen=True)
class BackupResult:
    """What one backup produced (ids and figures only: safe for XCom and logs)."""

    recovery_point_id: str
    client_id: str
    store: str
    key: str
    size: int
    sha256: str
    tables: int
    rows: int
    documents: int
    reused: bool = False


@dataclass
class BackupService:
    """Everything a backup needs, injected: bootstrap builds it from one home folder."""

    catalog: Catalog
    keyring: ClientKeyring
    store: Callable[[str], ObjectStore]
    open_dumper: Callable[[str], Dumper]
    connection_url: Callable[[str], str]
    resolve_path: Callable[[str], Path]
    clock: Callable[[], datetime]
    new_id: Callable[[], str]
    scratch: Callable[[], BinaryIO]

    def backup(
        self,
        client_id: str,
        *,
        scheduled_for: datetime | None = None,
        requested_by: str | None = None,
        progress: Progress | None = None,
    ) -> BackupResult:
        """Back the client up once; see the module docstring for the ordering.

        The client's lock is held throughout (``Catalog.client_lock``): a second backup of
        the same client, or its erasure, waits or is refused naming this one.
        """
        with self.catalog.client_lock(client_id, "backup", wait=CLIENT_LOCK_WAIT):
            return self._backup(client_id, scheduled_for, requested_by, progress)

    def _backup(
        self,
        client_id: str,
        scheduled_for: datetime | None,
        requested_by: str | None,
        progress: Progress | None,
    ) -> BackupResult:
        policy = self._active_policy(client_id, requested_by)
        storage = policy.backup.storage
        assert storage is not None  # an active backup always names its store
        # a missing bucket or a store we may not write fails now, not after the dump
        self.store(storage).probe()
        now = self.clock()
        recipients = self.keyring.recipients_for(policy, now)
        rp = self._start(policy, now, scheduled_for, requested_by, recipients_fp(recipients))
        if rp.status in ("complete", "deleted"):  # the slot was done (and maybe expired since)
            return _result(rp, reused=True)
        store = self.store(rp.store)
        written: list[StoredObject] = []
        try:
            manifest, stored = self._write(policy, rp, store, recipients, progress, written)
            # the last step that may fail: after it, this attempt's object is recorded
            done = self.catalog.complete_recovery_point(
                rp.id,
                size=stored.size,
                sha256=stored.sha256,
                version_id=stored.version_id,
                at=self.clock(),
                manifest_sha256=hashlib.sha256(manifest.to_bytes()).hexdigest(),
                attempt=rp.attempts,
            )
        except BaseException as exc:
            self._fail(rp, store, exc, written)
            raise
        self.catalog.append_evidence(
            requested_by or SYSTEM_ACTOR,
            "backup.completed",
            {"client": client_id, "recovery_point": rp.id},
            {
                "store": rp.store,
                "size": stored.size,
                "sha256": stored.sha256,
                "tables": len(manifest.tables),
                "rows": manifest.total_rows,
                "documents": len(manifest.documents),
                "attempt": done.attempts,
            },
            self.clock(),
        )
        return BackupResult(
            done.id,
            client_id,
            done.store,
            done.key,
            stored.size,
            stored.sha256,
            len(manifest.tables),
            manifest.total_rows,
            len(manifest.documents),
        )

    def _active_policy(self, client_id: str, requested_by: str | None) -> ClientPolicy:
        policy = current_policy(self.catalog, client_id)
        erasing = erasure_under_way(self.catalog, client_id)
        if policy is None and not erasing and not self.catalog.policy_history(client_id):
            # a mistyped id names no one: nothing to refuse, and nothing to record (the
            # evidence log keeps what it is given for good, and a typo may be a name)
            raise NotFoundError(
                f"client {client_id!r} is not in the catalog; check the id "
                "(retention-pipeline clients), or apply its policy file (retention-pipeline "
                "policy apply)"
            )
        if policy is None or not policy.backup_active or erasing:
            if erasing:
                reason = "an erasure of this client is under way or done"
            elif policy is None:
                reason = "no policy"
            else:
                reason = f"backup.mode is {policy.backup.mode}"
            self.catalog.append_evidence(
                requested_by or SYSTEM_ACTOR,
                "backup.refused",
                {"client": client_id},
                {"reason": reason},
                self.clock(),
            )
            if policy is None and not erasing:
                raise RefusedError(
                    f"client {client_id!r} has no policy in force (it was removed), so "
                    "nothing is processed for it; apply its policy file to resume"
                )
            raise RefusedError(
                f"client {client_id!r} has no active backup option ({reason}); nothing is "
                "processed for it. Activate backups in its policy file first"
            )
        return policy

    def _start(
        self,
        policy: ClientPolicy,
        now: datetime,
        scheduled_for: datetime | None,
        requested_by: str | None,
        recipients: tuple[str, ...],
    ) -> RecoveryPoint:
        """The pending row for this attempt: a new one, or the slot's earlier attempt."""
        if scheduled_for is not None:
            for rp in self.catalog.list_recovery_points(policy.client):
                if rp.scheduled_for == scheduled_for:
                    if rp.status in ("complete", "deleted"):
                        return rp
                    self._discard_leftovers(rp, self.store(rp.store))
                    return self.catalog.restart_recovery_point(rp.id, now)
        rp_id = self.new_id()
        storage = policy.backup.storage
        assert storage is not None  # an active backup always names its store
        return self.catalog.add_recovery_point(
            NewRecoveryPoint(
                id=rp_id,
                client_id=policy.client,
                store=storage,
                key=recovery_point_key(policy.client, rp_id),
                created_at=now,
                scheduled_for=scheduled_for,
                requested_by=requested_by,
                recipients=recipients,
            )
        )

    def _write(
        self,
        policy: ClientPolicy,
        rp: RecoveryPoint,
        store: ObjectStore,
        recipients: list[Recipient],
        progress: Progress | None,
        written: list[StoredObject],
    ) -> tuple[Manifest, StoredObject]:
        """Dump, pack, encrypt, upload, and read back; returns the verified object.

        Progress has two phases: ``read`` (bytes of table data and documents packed;
        the total is unknown until the dump ends) and ``upload`` (bytes of the packed
        plaintext encrypted and sent, out of a total known by then).
        """
        base = Manifest(
            client=policy.client,
            recovery_point=rp.id,
            created_at=rp.created_at.isoformat(),
            engine=None,
            server_version=None,
            tool_version=__version__,
            schema_sha256=None,
        )
        documents = self._documents(policy)
        read = Meter(progress, "read")
        with self.scratch() as scratch:
            spool = SealedSpool(scratch)
            if policy.source.database is not None:
                url = self.connection_url(policy.source.database.connection)
                with self.open_dumper(url) as dumper:
                    snapshot = dumper.schema()
                    base = replace(
                        base,
                        engine=dumper.engine,
                        server_version=dumper.server_version(),
                        objects=tuple(
                            ObjectEntry(o.kind, o.name, o.sha256) for o in snapshot.objects
                        ),
                    )
                    tables = [
                        TableSource(t.name, dumper.data_format, dumper.dump_table(t))
                        for t in snapshot.tables
                    ]
                    manifest, plaintext = pack(
                        base,
                        snapshot.to_json().encode(),
                        tables,
                        documents,
                        spool,
                        on_read=read.add,
                    )
            else:
                manifest, plaintext = pack(base, None, [], documents, spool, on_read=read.add)
            upload = Meter(progress, "upload", plaintext.size)
            hashed = HashingStream(encrypt_stream(recipients, upload.watch(plaintext)))
            # sized parts: without a size, S3's 10,000 parts of 8 MiB cap a backup at 78 GiB
            bound = encrypted_size_bound(plaintext.size, len(recipients))
            stored = store.put(rp.key, hashed, size_hint=bound)
            written.append(stored)
        self._check_stored(rp, store, stored, hashed)
        return manifest, stored

    def _documents(self, policy: ClientPolicy) -> list[DocumentSource]:
        if policy.source.documents is None:
            return []
        folder = self.resolve_path(policy.source.documents.path)
        if not folder.is_dir():
            raise RefusedError(
                f"client {policy.client!r}: source.documents.path is not a folder on this "
                "worker; fix the policy or mount the documents"
            )
        return documents_in(folder)

    def _check_stored(
        self, rp: RecoveryPoint, store: ObjectStore, stored: StoredObject, sent: HashingStream
    ) -> None:
        """Compare what the store holds with the bytes we sent, before calling it done."""
        back = store.head(rp.key, stored.version_id)
        expected = (sent.size, sent.sha256)
        readings = (("put", (stored.size, stored.sha256)), ("head", (back.size, back.sha256)))
        for what, got in readings:
            if got != expected:
                raise BackupVerificationError(
                    f"recovery point {rp.id}: the stored object's size and SHA-256 ({what}) "
                    "differ from the bytes uploaded; the backup is not complete, retry it"
                )

    def _fail(
        self,
        rp: RecoveryPoint,
        store: ObjectStore,
        exc: BaseException,
        written: list[StoredObject],
    ) -> None:
        """Mark the attempt failed and remove its leftovers; never hide the first error.

        If another run of the same slot took the row over meanwhile (``_start``), the row
        and the key's other versions are that run's: only what this attempt stored is
        removed (and nothing on a store without versions, where the key is shared).
        """
        reason = str(exc) if isinstance(exc, RetentionError) else type(exc).__name__
        try:
            self.catalog.fail_recovery_point(rp.id, reason[:500], self.clock(), attempt=rp.attempts)
        except TransitionError:
            with suppress(Exception):  # cleanup finds what this could not remove
                recorded = self.catalog.get_recovery_point(rp.id).version_id
                own = [
                    (rp.key, o.version_id)
                    for o in written
                    if o.version_id not in (NULL_VERSION, recorded)
                ]
                if own:
                    store.delete_versions(own)
            return
        except Exception:  # the catalog is unreachable: cleanup finds the row later
            return
        try:
            self._discard_leftovers(rp, store)
            self.catalog.append_evidence(
                SYSTEM_ACTOR,
                "backup.failed",
                {"client": rp.client_id, "recovery_point": rp.id},
                {"error": type(exc).__name__},
                self.clock(),
            )
        except Exception:  # noqa: S110 - cleanup finds what this could not remove
            pass

    def _discard_leftovers(self, rp: RecoveryPoint, store: ObjectStore) -> None:
        """Remove every version and unfinished upload of an attempt's object key."""
        store.abort_unfinished_uploads(rp.key)
        purge_object(store, rp.key)


# Erasure request statuses after which a client must never be backed up again (an
# interrupted or failed erasure is resumed, not overtaken by new copies).
ERASING_STATUSES = DONE_ERASURES | {"running", "failed"}


def erasure_under_way(catalog: Catalog, client_id: str) -> bool:
    """Whether an erasure of the client has started (and not merely been refused)."""
    return any(r.status in ERASING_STATUSES for r in catalog.list_erasure_requests(client_id))


def recipients_fp(recipients: Iterable[Recipient]) -> tuple[str, ...]:
    """Recipient fingerprints, recorded with each recovery point for audits."""
    return tuple(r.fingerprint() for r in recipients)


def _result(rp: RecoveryPoint, *, reused: bool) -> BackupResult:
    return BackupResult(
        rp.id, rp.client_id, rp.store, rp.key, rp.size or 0, rp.sha256 or "", 0, 0, 0, reused
    )
