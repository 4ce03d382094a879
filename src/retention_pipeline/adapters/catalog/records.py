"""Rows to records: the only place that turns SQLAlchemy rows into port dataclasses.

Every JSON value is copied on the way out (``plain``), so a caller that mutates a
record's dict or list can neither change the session's state nor another caller's copy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast, overload

from retention_pipeline.adapters.catalog.models import (
    ArchiveAttemptRow,
    ArchiveCopyRow,
    CertificateRow,
    ClientKeyRow,
    ClientRow,
    ErasureRequestRow,
    EvidenceRow,
    PolicyVersionRow,
    RecoveryPointRow,
)
from retention_pipeline.domain.evidence import EvidenceEntry, canonical_json
from retention_pipeline.ports.catalog import (
    ArchiveAttempt,
    ArchiveAttemptStatus,
    ArchiveCopy,
    ArchiveCopyStatus,
    Certificate,
    CertificateStatus,
    ClientKey,
    ClientRecord,
    ErasureRequest,
    ErasureTrigger,
    KeyRecordState,
    PolicyVersion,
    RecoveryPoint,
    RecoveryPointStatus,
)


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC: a freshly added row still holds the caller's own offset."""
    return value.astimezone(UTC) if value is not None else None


def plain(value: Any) -> Any:
    """A deep copy in JSON's own shapes (tuples become lists), exactly as stored.

    Hashes are computed over this form, so what is hashed at append time is what a
    verifier recomputes from the stored row.
    """
    return json.loads(canonical_json(value))


def client_record(row: ClientRow) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        created_at=utc(row.created_at),
        current_version=row.current_version,
        removed=row.removed,
        display_name=row.display_name,
    )


def policy_version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        client_id=row.client_id,
        version=row.version,
        document=plain(row.document) if row.document is not None else None,
        digest=row.digest,
        changes=plain(row.changes),
        actor=row.actor,
        recorded_at=utc(row.recorded_at),
    )


def recovery_point(row: RecoveryPointRow) -> RecoveryPoint:
    return RecoveryPoint(
        id=row.id,
        client_id=row.client_id,
        store=row.store,
        key=row.key,
        status=cast(RecoveryPointStatus, row.status),
        created_at=utc(row.created_at),
        scheduled_for=utc(row.scheduled_for),
        requested_by=row.requested_by,
        recipients=tuple(str(r) for r in row.recipients),
        size=row.size,
        sha256=row.sha256,
        version_id=row.version_id,
        manifest_sha256=row.manifest_sha256,
        completed_at=utc(row.completed_at),
        failed_at=utc(row.failed_at),
        deleted_at=utc(row.deleted_at),
        reason=row.reason,
        attempts=row.attempts,
    )


def client_key(row: ClientKeyRow) -> ClientKey:
    return ClientKey(
        client_id=row.client_id,
        recipient=row.recipient,
        fingerprint=row.fingerprint,
        custody=row.custody,
        kek_id=row.kek_id,
        wrapped=row.wrapped,
        state=cast(KeyRecordState, row.state),
        created_at=utc(row.created_at),
        destroyed_at=utc(row.destroyed_at),
        deletion_date=utc(row.deletion_date),
    )


def archive_copy(row: ArchiveCopyRow) -> ArchiveCopy:
    return ArchiveCopy(
        id=row.id,
        recovery_point_id=row.recovery_point_id,
        client_id=row.client_id,
        store=row.store,
        key=row.key,
        version_id=row.version_id,
        size=row.size,
        sha256=row.sha256,
        storage_class=row.storage_class,
        lock_mode=row.lock_mode,
        lock_until=utc(row.lock_until),
        created_at=utc(row.created_at),
        status=cast(ArchiveCopyStatus, row.status),
        deleted_at=utc(row.deleted_at),
        reason=row.reason,
    )


def archive_attempt(row: ArchiveAttemptRow) -> ArchiveAttempt:
    return ArchiveAttempt(
        id=row.id,
        client_id=row.client_id,
        recovery_point_id=row.recovery_point_id,
        store=row.store,
        key=row.key,
        started_at=utc(row.started_at),
        lock_until=utc(row.lock_until),
        status=cast(ArchiveAttemptStatus, row.status),
        finished_at=utc(row.finished_at),
        reason=row.reason,
    )


def erasure_request(row: ErasureRequestRow) -> ErasureRequest:
    return ErasureRequest(
        id=row.id,
        client_id=row.client_id,
        trigger=cast(ErasureTrigger, row.trigger),
        requested_by=row.requested_by,
        approved_by=row.approved_by,
        request_ref=row.request_ref,
        status=row.status,
        created_at=utc(row.created_at),
        finished_at=utc(row.finished_at),
        details=plain(row.details),
    )


def certificate(row: CertificateRow) -> Certificate:
    return Certificate(
        id=row.id,
        client_id=row.client_id,
        erasure_request_id=row.erasure_request_id,
        status=cast(CertificateStatus, row.status),
        issued_at=utc(row.issued_at),
        envelope_sha256=row.envelope_sha256,
        leaf_index=row.leaf_index,
        supersedes=row.supersedes,
        bundle=plain(row.bundle),
        delivered_to=tuple(str(d) for d in row.delivered_to or ()),
    )


def evidence_entry(row: EvidenceRow) -> EvidenceEntry:
    return EvidenceEntry(
        seq=row.seq,
        at=utc(row.at),
        actor=row.actor,
        action=row.action,
        subjects=plain(row.subjects),
        details=plain(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
