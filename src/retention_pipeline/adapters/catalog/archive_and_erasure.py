"""Archive copies, erasure requests and destruction certificates in the catalog.

These records are written by the archive, retention and erasure use cases; this part of
the catalog only stores and lists them, checks that what they point at exists, and
refuses to delete an archive copy twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from retention_pipeline.adapters.catalog import records
from retention_pipeline.adapters.catalog.models import (
    ArchiveAttemptRow,
    ArchiveCopyRow,
    CertificateRow,
    ClientRow,
    ErasureRequestRow,
    RecoveryPointRow,
)
from retention_pipeline.adapters.catalog.transactions import Transactions
from retention_pipeline.ports.catalog import (
    ArchiveAttempt,
    ArchiveAttemptStatus,
    ArchiveCopy,
    Certificate,
    ConflictError,
    ErasureRequest,
    NewArchiveAttempt,
    NewArchiveCopy,
    NewCertificate,
    NewErasureRequest,
    TransitionError,
)

_NEW_CLIENT = "record its policy first"


def _missing_attempt(attempt_id: str) -> str:
    return f"archive attempt {attempt_id!r} is not in the catalog"


class ArchiveAndErasure(Transactions):
    """The archive-copy, erasure-request and certificate methods of ``SqlCatalog``."""

    def add_archive_copy(self, copy: NewArchiveCopy) -> ArchiveCopy:
        """Record a verified archive copy as ``present``."""
        with self._write() as session:
            self._need(session, ClientRow, copy.client_id, "client", _NEW_CLIENT)
            rp = self._need(
                session,
                RecoveryPointRow,
                copy.recovery_point_id,
                "recovery point",
                "archive only recorded recovery points",
            )
            if rp.client_id != copy.client_id:
                raise ConflictError(
                    f"recovery point {rp.id!r} belongs to client {rp.client_id!r}, not "
                    f"{copy.client_id!r}; an archive copy keeps its recovery point's client"
                )
            if session.get(ArchiveCopyRow, copy.id) is not None:
                raise ConflictError(f"archive copy {copy.id!r} already exists; use a new id")
            row = ArchiveCopyRow(
                id=copy.id,
                recovery_point_id=copy.recovery_point_id,
                client_id=copy.client_id,
                store=copy.store,
                key=copy.key,
                version_id=copy.version_id,
                size=copy.size,
                sha256=copy.sha256,
                storage_class=copy.storage_class,
                lock_mode=copy.lock_mode,
                lock_until=copy.lock_until,
                created_at=copy.created_at,
                status="present",
            )
            session.add(row)
            if copy.attempt_id is not None:  # the copy and its attempt's end: one commit
                attempt = self._locked(
                    session, ArchiveAttemptRow, copy.attempt_id, _missing_attempt(copy.attempt_id)
                )
                if attempt.status != "pending":
                    raise TransitionError(
                        f"archive attempt {attempt.id!r} is {attempt.status}, not pending; "
                        "its copy cannot be recorded (cleanup may have judged it abandoned)"
                    )
                attempt.status, attempt.finished_at = "done", copy.created_at
            session.flush()
            return records.archive_copy(row)

    def start_archive_attempt(self, attempt: NewArchiveAttempt) -> ArchiveAttempt:
        """Record an archive copy in the making as ``pending``, before its first byte."""
        with self._write() as session:
            self._need(session, ClientRow, attempt.client_id, "client", _NEW_CLIENT)
            if session.get(ArchiveAttemptRow, attempt.id) is not None:
                raise ConflictError(f"archive attempt {attempt.id!r} already exists; use a new id")
            row = ArchiveAttemptRow(
                id=attempt.id,
                client_id=attempt.client_id,
                recovery_point_id=attempt.recovery_point_id,
                store=attempt.store,
                key=attempt.key,
                started_at=attempt.started_at,
                lock_until=attempt.lock_until,
                status="pending",
            )
            session.add(row)
            session.flush()
            return records.archive_attempt(row)

    def finish_archive_attempt(
        self, attempt_id: str, status: ArchiveAttemptStatus, at: datetime, reason: str | None
    ) -> ArchiveAttempt:
        """pending -> failed; any but cleared -> cleared (``done`` comes with the copy)."""
        allowed = {"failed": {"pending"}, "cleared": {"pending", "failed", "done"}}
        with self._write() as session:
            row = self._locked(session, ArchiveAttemptRow, attempt_id, _missing_attempt(attempt_id))
            if row.status not in allowed.get(status, set()):
                raise TransitionError(
                    f"archive attempt {attempt_id!r} is {row.status}; it cannot become {status}"
                )
            row.status, row.finished_at, row.reason = status, at, reason
            session.flush()
            return records.archive_attempt(row)

    def list_archive_attempts(self, client_id: str | None = None) -> list[ArchiveAttempt]:
        """Archive attempts, oldest first."""
        query = select(ArchiveAttemptRow).order_by(
            ArchiveAttemptRow.started_at, ArchiveAttemptRow.id
        )
        if client_id is not None:
            query = query.where(ArchiveAttemptRow.client_id == client_id)
        with self._read() as session:
            return [records.archive_attempt(r) for r in session.scalars(query)]

    def list_archive_copies(self, client_id: str | None = None) -> list[ArchiveCopy]:
        """Archive copies, oldest first, deleted ones included."""
        query = select(ArchiveCopyRow).order_by(ArchiveCopyRow.created_at, ArchiveCopyRow.id)
        if client_id is not None:
            query = query.where(ArchiveCopyRow.client_id == client_id)
        with self._read() as session:
            return [records.archive_copy(r) for r in session.scalars(query)]

    def mark_archive_copy_deleted(self, copy_id: str, reason: str, at: datetime) -> ArchiveCopy:
        """present -> deleted, once the copy is gone from the archive store."""
        with self._write() as session:
            missing = f"archive copy {copy_id!r} is not in the catalog; list them to find the id"
            row = self._locked(session, ArchiveCopyRow, copy_id, missing)
            if row.status != "present":
                raise TransitionError(
                    f"archive copy {copy_id!r} is already {row.status}; nothing was changed"
                )
            row.status = "deleted"
            row.deleted_at = at
            row.reason = reason
            session.flush()
            return records.archive_copy(row)

    def add_erasure_request(self, request: NewErasureRequest) -> ErasureRequest:
        """Record an erasure request."""
        with self._write() as session:
            self._need(session, ClientRow, request.client_id, "client", _NEW_CLIENT)
            if session.get(ErasureRequestRow, request.id) is not None:
                raise ConflictError(f"erasure request {request.id!r} already exists")
            row = ErasureRequestRow(
                id=request.id,
                client_id=request.client_id,
                trigger=request.trigger,
                requested_by=request.requested_by,
                approved_by=request.approved_by,
                request_ref=request.request_ref,
                status=request.status,
                created_at=request.created_at,
                details=records.plain(request.details or {}),
            )
            session.add(row)
            session.flush()
            return records.erasure_request(row)

    def list_erasure_requests(self, client_id: str | None = None) -> list[ErasureRequest]:
        """Erasure requests, oldest first."""
        query = select(ErasureRequestRow).order_by(
            ErasureRequestRow.created_at, ErasureRequestRow.id
        )
        if client_id is not None:
            query = query.where(ErasureRequestRow.client_id == client_id)
        with self._read() as session:
            return [records.erasure_request(r) for r in session.scalars(query)]

    def add_certificate(self, certificate: NewCertificate) -> Certificate:
        """Record an issued (or scheduled) destruction certificate."""
        cert = certificate
        with self._write() as session:
            self._need(session, ClientRow, cert.client_id, "client", _NEW_CLIENT)
            if cert.erasure_request_id is not None:
                self._need(
                    session,
                    ErasureRequestRow,
                    cert.erasure_request_id,
                    "erasure request",
                    "record the request before its certificate",
                )
            if cert.supersedes is not None:
                self._need(
                    session,
                    CertificateRow,
                    cert.supersedes,
                    "certificate",
                    "a certificate can only supersede a recorded one",
                )
            if session.get(CertificateRow, cert.id) is not None:
                raise ConflictError(f"certificate {cert.id!r} already exists")
            if cert.leaf_index is not None:
                holder = session.scalars(
                    select(CertificateRow.id).where(CertificateRow.leaf_index == cert.leaf_index)
                ).first()
                if holder is not None:
                    raise ConflictError(
                        f"Merkle leaf {cert.leaf_index} already holds certificate {holder!r}; "
                        "append the certificate as a new leaf"
                    )
            row = CertificateRow(
                id=cert.id,
                client_id=cert.client_id,
                erasure_request_id=cert.erasure_request_id,
                status=cert.status,
                issued_at=cert.issued_at,
                envelope_sha256=cert.envelope_sha256,
                leaf_index=cert.leaf_index,
                supersedes=cert.supersedes,
                bundle=records.plain(cert.bundle),
            )
            session.add(row)
            session.flush()
            return records.certificate(row)

    def list_certificates(self, client_id: str | None = None) -> list[Certificate]:
        """Certificates, oldest first."""
        query = select(CertificateRow).order_by(CertificateRow.issued_at, CertificateRow.id)
        if client_id is not None:
            query = query.where(CertificateRow.client_id == client_id)
        with self._read() as session:
            return [records.certificate(r) for r in session.scalars(query)]
