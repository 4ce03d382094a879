"""The catalog port: what the pipeline knows and has done, per client, in one database.

Contract (every adapter obeys it; ``tests/catalog/`` checks it on SQLite and PostgreSQL):

* Each method is its own transaction; a method that raises changed nothing.
* Times are passed in by the caller (``at``, ``created_at``), aware and in UTC; the
  catalog never reads a clock. Times come back aware, in UTC, on every engine.
* Records returned are frozen dataclasses; no database object leaks out. Their dict and
  list fields are copies: mutating them changes nothing stored.
* ``record_policy_version`` writes its ``policy.recorded`` evidence entry in the same
  transaction: a policy version without its evidence cannot exist, nor the reverse.
* Evidence appends are serialized across processes, so concurrent appends never fork
  the chain (see ``retention_pipeline.domain.evidence`` for the hashing rules).
* Lifecycle changes follow ``RECOVERY_POINT_TRANSITIONS``; they are not idempotent: a
  repeated or disallowed transition raises ``TransitionError`` and changes nothing.
* Errors: ``NotFoundError`` (no such client, recovery point, copy), ``ConflictError``
  (an id or a client's scheduled slot is taken) and ``TransitionError`` are permanent;
  the caller must not retry them unchanged. Messages name objects by opaque id only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from retention_pipeline.domain.evidence import EvidenceEntry
from retention_pipeline.errors import RefusedError, RetentionError

__all__ = [
    "DONE_ERASURES",
    "RECOVERY_POINT_TRANSITIONS",
    "ArchiveAttempt",
    "ArchiveAttemptStatus",
    "ArchiveCopy",
    "ArchiveCopyStatus",
    "Catalog",
    "Certificate",
    "CertificateStatus",
    "ClientRecord",
    "ConflictError",
    "ErasureRequest",
    "ErasureTrigger",
    "EvidenceEntry",
    "IntegrityCheck",
    "IntegrityCheckKind",
    "IntegrityCheckResult",
    "NewArchiveAttempt",
    "NewArchiveCopy",
    "NewCertificate",
    "NewErasureRequest",
    "NewIntegrityCheck",
    "NewRecoveryPoint",
    "PolicyVersion",
    "RecoveryPoint",
    "RecoveryPointStatus",
    "TransitionError",
]

RecoveryPointStatus = Literal["pending", "complete", "failed", "deleted"]
ArchiveCopyStatus = Literal["present", "deleted"]
# pending: bytes may be on their way; done: its copy's row is recorded (same transaction);
# failed: it ended without a copy (what it stored may remain: cleanup's to find);
# cleared: cleanup found nothing of it left unrecorded in the store.
ArchiveAttemptStatus = Literal["pending", "done", "failed", "cleared"]
ErasureTrigger = Literal["end_of_contract", "client_request", "retention_expiry"]
CertificateStatus = Literal["completed", "completed_with_exceptions", "scheduled"]
# Erasure request statuses after which the client is erased: its key destroyed on purpose,
# its id a tombstone (locked residual copies are crypto-erased and swept later).
DONE_ERASURES = frozenset({"completed", "completed_with_exceptions"})
IntegrityCheckKind = Literal["verify", "restore_drill"]
IntegrityCheckResult = Literal["passed", "failed"]

# target status -> the statuses it may be reached from. "complete" only from "pending":
# a backup is written, then verified, then committed once (DESIGN.md section 4).
RECOVERY_POINT_TRANSITIONS: dict[RecoveryPointStatus, frozenset[RecoveryPointStatus]] = {
    "complete": frozenset({"pending"}),
    "failed": frozenset({"pending"}),
    "deleted": frozenset({"pending", "complete", "failed"}),
    # A retry of the same scheduled slot takes over a failed or abandoned attempt.
    "pending": frozenset({"pending", "failed"}),
}
KeyRecordState = Literal["active", "pending_deletion", "destroyed"]


# How long a backup, archive, retention apply or erasure waits for another operation of
# the same client to end before it is refused (``Catalog.client_lock``).
CLIENT_LOCK_WAIT = 10.0


class ClientBusyError(RefusedError):
    """Another operation holds the client's lock (``Catalog.client_lock``); retry later."""


class ConflictError(RetentionError):
    """The id, or the (client, scheduled slot) pair, is already in the catalog."""


class TransitionError(RetentionError):
    """A lifecycle change not allowed from the object's current status."""


@dataclass(frozen=True)
class PolicyVersion:
    """One recorded version of a client's policy; ``document is None`` means removed."""

    client_id: str
    version: int
    document: dict[str, Any] | None
    digest: str | None
    changes: list[dict[str, Any]]
    actor: str
    recorded_at: datetime

    @property
    def removed(self) -> bool:
        """True when this version records that the client's policy file was removed."""
        return self.document is None


@dataclass(frozen=True)
class ClientRecord:
    """A client known to the catalog (``display_name`` stays here, never in logs)."""

    client_id: str
    created_at: datetime
    current_version: int
    removed: bool
    display_name: str | None


@dataclass(frozen=True)
class NewRecoveryPoint:
    """What the caller knows before the upload starts; the row is created ``pending``.

    ``scheduled_for`` is the DAG's logical slot: one recovery point per client and slot,
    so a re-run of the same slot hits ``ConflictError`` instead of a second backup.
    """

    id: str
    client_id: str
    store: str
    key: str
    created_at: datetime
    scheduled_for: datetime | None = None
    requested_by: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryPoint:
    """One encrypted backup object and where it is in its lifecycle."""

    id: str
    client_id: str
    store: str
    key: str
    status: RecoveryPointStatus
    created_at: datetime
    scheduled_for: datetime | None
    requested_by: str | None
    recipients: tuple[str, ...]
    size: int | None
    sha256: str | None
    version_id: str | None
    manifest_sha256: str | None
    completed_at: datetime | None
    failed_at: datetime | None
    deleted_at: datetime | None
    reason: str | None
    attempts: int = 1


@dataclass(frozen=True)
class ClientKey:
    """A client's key pair as the catalog holds it: the private half only ever wrapped.

    ``wrapped`` is ``None`` once the key was destroyed; ``deletion_date`` is when a KMS
    key-encryption key will be gone for good (KMS waits a pending window).
    """

    client_id: str
    recipient: str
    fingerprint: str
    custody: str
    kek_id: str
    wrapped: bytes | None = field(repr=False)
    state: KeyRecordState
    created_at: datetime
    destroyed_at: datetime | None = None
    deletion_date: datetime | None = None


@dataclass(frozen=True)
class NewArchiveCopy:
    """A verified copy of a recovery point on an archive store, about to be recorded."""

    id: str
    recovery_point_id: str
    client_id: str
    store: str
    key: str
    version_id: str
    size: int
    sha256: str
    created_at: datetime
    storage_class: str | None = None
    lock_mode: str | None = None
    lock_until: datetime | None = None
    attempt_id: str | None = None  # the attempt this copy completes, marked done with it


@dataclass(frozen=True)
class NewArchiveAttempt:
    """An archive copy about to be written: recorded before its first byte."""

    id: str
    client_id: str
    recovery_point_id: str
    store: str
    key: str
    started_at: datetime
    lock_until: datetime | None = None


@dataclass(frozen=True)
class ArchiveAttempt:
    """A recorded archive attempt (see ``ArchiveAttemptStatus``)."""

    id: str
    client_id: str
    recovery_point_id: str
    store: str
    key: str
    started_at: datetime
    lock_until: datetime | None
    status: ArchiveAttemptStatus
    finished_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class ArchiveCopy:
    """A recorded archive copy; ``status`` is ``present`` until it is deleted."""

    id: str
    recovery_point_id: str
    client_id: str
    store: str
    key: str
    version_id: str
    size: int
    sha256: str
    storage_class: str | None
    lock_mode: str | None
    lock_until: datetime | None
    created_at: datetime
    status: ArchiveCopyStatus
    deleted_at: datetime | None
    reason: str | None


@dataclass(frozen=True)
class NewErasureRequest:
    """A request to erase a client; ``details`` holds ids and counts, never data."""

    id: str
    client_id: str
    trigger: ErasureTrigger
    requested_by: str
    created_at: datetime
    status: str = "requested"
    approved_by: str | None = None
    request_ref: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class ErasureRequest:
    """A recorded erasure request."""

    id: str
    client_id: str
    trigger: ErasureTrigger
    requested_by: str
    approved_by: str | None
    request_ref: str | None
    status: str
    created_at: datetime
    finished_at: datetime | None
    details: dict[str, Any]


@dataclass(frozen=True)
class NewCertificate:
    """A signed destruction certificate to record (``bundle``: envelope, proofs)."""

    id: str
    client_id: str
    status: CertificateStatus
    issued_at: datetime
    envelope_sha256: str
    bundle: dict[str, Any]
    erasure_request_id: str | None = None
    leaf_index: int | None = None
    supersedes: str | None = None


@dataclass(frozen=True)
class Certificate:
    """A recorded destruction certificate."""

    id: str
    client_id: str
    erasure_request_id: str | None
    status: CertificateStatus
    issued_at: datetime
    envelope_sha256: str
    leaf_index: int | None
    supersedes: str | None
    bundle: dict[str, Any]
    delivered_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewIntegrityCheck:
    """A finished verification or restore drill of one recovery point, to record.

    ``details`` holds counts only (tables, rows, documents, problems): never data.
    """

    id: str
    client_id: str
    recovery_point_id: str
    kind: IntegrityCheckKind
    result: IntegrityCheckResult
    checked_at: datetime
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegrityCheck:
    """A recorded verification (decrypt + checksums) or restore drill."""

    id: str
    client_id: str
    recovery_point_id: str
    kind: IntegrityCheckKind
    result: IntegrityCheckResult
    checked_at: datetime
    details: dict[str, Any]


@runtime_checkable
class Catalog(Protocol):
    """The pipeline's memory. See the module docstring for the full contract."""

    def record_policy_version(
        self,
        client_id: str,
        document: dict[str, Any] | None,
        changes: list[dict[str, Any]],
        actor: str,
        at: datetime,
        display_name: str | None = None,
    ) -> PolicyVersion:
        """Store version N+1 (client created if new) and its evidence entry, atomically."""
        ...

    def latest_policy(self, client_id: str) -> PolicyVersion | None:
        """The newest version, or ``None`` for a client never recorded."""
        ...

    def policy_history(self, client_id: str) -> list[PolicyVersion]:
        """Every version of the client's policy, oldest first; empty if unknown."""
        ...

    def client_lock(
        self, client_id: str, operation: str, *, wait: float = 0.0
    ) -> AbstractContextManager[None]:
        """Hold the client's lock for a block: one backup, archive, retention apply or
        erasure at a time per client. Another holder makes it wait up to ``wait``
        seconds, then raise ``ClientBusyError`` naming the running operation. Released
        by the server or the system when the holder dies."""
        ...

    def list_clients(self) -> list[ClientRecord]:
        """Every client ever recorded, removed ones included, by client id."""
        ...

    def add_recovery_point(self, rp: NewRecoveryPoint) -> RecoveryPoint:
        """Record a ``pending`` recovery point; ``ConflictError`` if id or slot is taken."""
        ...

    def complete_recovery_point(
        self,
        rp_id: str,
        *,
        size: int,
        sha256: str,
        version_id: str,
        at: datetime,
        manifest_sha256: str | None = None,
        attempt: int | None = None,
    ) -> RecoveryPoint:
        """pending -> complete, after the stored object was read back and checked.

        With ``attempt``, only while the row is still that attempt: a run of the same
        slot that took the row over (``restart_recovery_point``) makes an older attempt's
        completion a ``TransitionError`` instead of recording its object.
        """
        ...

    def fail_recovery_point(
        self, rp_id: str, reason: str, at: datetime, *, attempt: int | None = None
    ) -> RecoveryPoint:
        """pending -> failed, with an opaque reason (no data, no key); ``attempt`` as above."""
        ...

    def mark_recovery_point_deleted(self, rp_id: str, reason: str, at: datetime) -> RecoveryPoint:
        """pending/complete/failed -> deleted, once its object is gone from the store."""
        ...

    def restart_recovery_point(self, rp_id: str, at: datetime) -> RecoveryPoint:
        """failed/pending -> pending again, counting the attempt (a retry of its slot)."""
        ...

    def add_client_key(self, key: ClientKey) -> ClientKey:
        """Record a client's new key; ``ConflictError`` if the client already has one."""
        ...

    def get_client_key(self, client_id: str) -> ClientKey | None:
        """The client's key record, or ``None`` if none was ever created."""
        ...

    def list_client_keys(self) -> list[ClientKey]:
        """Every client key record (no secret: wrapped identities stay wrapped)."""
        ...

    def mark_client_key_destroyed(
        self, client_id: str, at: datetime, deletion_date: datetime | None
    ) -> ClientKey:
        """Drop the wrapped identity for good and record when and how the key ends."""
        ...

    def get_recovery_point(self, rp_id: str) -> RecoveryPoint:
        """One recovery point; ``NotFoundError`` if the id is unknown."""
        ...

    def list_recovery_points(
        self,
        client_id: str | None = None,
        statuses: Iterable[RecoveryPointStatus] | None = None,
    ) -> list[RecoveryPoint]:
        """Recovery points, oldest first, filtered by client and status when given."""
        ...

    def start_archive_attempt(self, attempt: NewArchiveAttempt) -> ArchiveAttempt:
        """Record an archive copy in the making as ``pending``, before its first byte."""
        ...

    def finish_archive_attempt(
        self, attempt_id: str, status: ArchiveAttemptStatus, at: datetime, reason: str | None
    ) -> ArchiveAttempt:
        """pending -> failed; any but cleared -> cleared (``done`` comes with the copy)."""
        ...

    def list_archive_attempts(self, client_id: str | None = None) -> list[ArchiveAttempt]:
        """Archive attempts, oldest first."""
        ...

    def add_archive_copy(self, copy: NewArchiveCopy) -> ArchiveCopy:
        """Record a verified archive copy as ``present``."""
        ...

    def list_archive_copies(self, client_id: str | None = None) -> list[ArchiveCopy]:
        """Archive copies, oldest first, deleted ones included."""
        ...

    def mark_archive_copy_deleted(self, copy_id: str, reason: str, at: datetime) -> ArchiveCopy:
        """present -> deleted, once the copy is gone from the archive store."""
        ...

    def add_erasure_request(self, request: NewErasureRequest) -> ErasureRequest:
        """Record an erasure request."""
        ...

    def list_erasure_requests(self, client_id: str | None = None) -> list[ErasureRequest]:
        """Erasure requests, oldest first."""
        ...

    def add_certificate(self, certificate: NewCertificate) -> Certificate:
        """Record an issued (or scheduled) destruction certificate."""
        ...

    def get_erasure_request(self, request_id: str) -> ErasureRequest:
        """One erasure request; ``NotFoundError`` if the id is unknown."""
        ...

    def update_erasure_request(
        self,
        request_id: str,
        *,
        status: str,
        approved_by: str | None = None,
        finished_at: datetime | None = None,
        details: dict[str, Any] | None = None,
    ) -> ErasureRequest:
        """Set the status (and, when given, approver, end time, details: replaced whole)."""
        ...

    def scrub_client(self, client_id: str, at: datetime, actor: str) -> int:
        """Null the client's personal fields in ``clients`` and every policy version.

        ``display_name``, ``purpose``, ``contract.reference`` and ``legal_hold.reason``
        become null in each stored document and in the recorded ``changes``; versions,
        digests and evidence stay (they hold no data). Logs ``client.scrubbed`` in the
        same transaction. Idempotent; returns how many rows changed.
        """
        ...

    def append_certificate(self, certificate: NewCertificate) -> Certificate:
        """Record a certificate as the next leaf of the certificate log.

        ``leaf_index`` is assigned here, serialized with evidence appends (the same
        lock), so two issuers never take the same leaf; ``certificate.logged`` is
        appended in the same transaction.
        """
        ...

    def certificate_leaves(self, size: int | None = None) -> list[str]:
        """``envelope_sha256`` of the first ``size`` leaves (all: None), in leaf order."""
        ...

    def get_certificate(self, certificate_id: str) -> Certificate:
        """One certificate; ``NotFoundError`` if the id is unknown."""
        ...

    def set_certificate_bundle(
        self, certificate_id: str, bundle: dict[str, Any], delivered_to: Iterable[str] = ()
    ) -> Certificate:
        """Store the finished bundle (proof, checkpoint) and where it was delivered.

        The envelope inside must be the one logged: its SHA-256 is checked, so a bundle
        can never be swapped for another certificate's.
        """
        ...

    def list_certificates(self, client_id: str | None = None) -> list[Certificate]:
        """Certificates, oldest first."""
        ...

    def append_evidence(
        self,
        actor: str,
        action: str,
        subjects: dict[str, str],
        details: dict[str, Any],
        at: datetime,
    ) -> EvidenceEntry:
        """Append one hash-linked entry; serialized against every other append."""
        ...

    def evidence_entries(self) -> Iterator[EvidenceEntry]:
        """Every evidence entry in seq order, read page by page."""
        ...

    def evidence_head(self) -> EvidenceEntry | None:
        """The entry with the highest seq, or ``None`` for an empty log."""
        ...

    def evidence_head_mark(self) -> tuple[int, str] | None:
        """(seq, hash) the catalog's head row holds (what the next append links to).

        ``None`` when that row is gone. It equals the newest entry's (seq, hash), or
        ``(0, GENESIS_HASH)`` for an empty log, unless the catalog was altered by hand.
        """
        ...

    def add_integrity_check(self, check: NewIntegrityCheck) -> IntegrityCheck:
        """Record a verification or restore drill; ``ConflictError`` if the id is taken.

        ``NotFoundError`` if the recovery point is unknown or belongs to another client.
        """
        ...

    def list_integrity_checks(self, client_id: str | None = None) -> list[IntegrityCheck]:
        """Integrity checks, oldest ``checked_at`` first, filtered by client when given."""
        ...
