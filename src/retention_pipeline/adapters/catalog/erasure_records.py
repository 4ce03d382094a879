"""What erasure writes into the catalog: request progress, scrubbed rows, the certificate log.

Rules this part of the catalog enforces:

* Scrubbing nulls the personal fields of a client (its display name, and in every policy
  version the order form's personal fields, in the document and in the recorded
  changes) but keeps the version rows, their digests and the evidence log: those hold
  no data, and deleting them would break the hash chain auditors check.
* Certificate leaves are appended under the evidence head lock, the lock every evidence
  append takes, so leaf indexes are dense (0, 1, 2, ...) and never taken twice, even by
  two processes issuing certificates at once.
* A bundle stored for a certificate must carry the envelope that was logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from retention_pipeline.adapters.catalog import evidence_log, records
from retention_pipeline.adapters.catalog.models import (
    CertificateRow,
    ClientRow,
    ErasureRequestRow,
    PolicyVersionRow,
)
from retention_pipeline.adapters.catalog.transactions import Transactions
from retention_pipeline.ports.catalog import (
    Certificate,
    ConflictError,
    ErasureRequest,
    NewCertificate,
)

# Dotted paths of the order form's personal fields (see domain.documents.PERSONAL_FIELDS),
# with what each becomes: null where the field is optional, else a value of its type
# that still validates (a documents folder and certificate destinations often carry the
# client's or a person's name).
ERASED_FOLDER = "erased"
_SCRUBBED: dict[str, Any] = {
    "display_name": None,
    "purpose": None,
    "contract.reference": None,
    "legal_hold.reason": None,
    "source.documents.path": ERASED_FOLDER,
    "erasure.certificate_to": [],
}
PERSONAL_PATHS = tuple(_SCRUBBED)


def scrub_document(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a policy document with every personal path replaced (if present)."""
    copy: dict[str, Any] = json.loads(json.dumps(document))
    for path, erased in _SCRUBBED.items():
        *parents, leaf = path.split(".")
        node: Any = copy
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf) not in (None, erased):
            node[leaf] = erased
    return copy


def scrub_changes(changes: list[Any]) -> list[Any]:
    """A copy of recorded changes with old and new values of personal paths nulled."""
    return [
        {**change, "old": None, "new": None}
        if isinstance(change, dict) and change.get("path") in PERSONAL_PATHS
        else change
        for change in changes
    ]


class ErasureRecords(Transactions):
    """The erasure-request, scrubbing and certificate-log methods of ``SqlCatalog``."""

    def get_erasure_request(self, request_id: str) -> ErasureRequest:
        """One erasure request; ``NotFoundError`` if the id is unknown."""
        with self._read() as session:
            row = self._need(
                session, ErasureRequestRow, request_id, "erasure request", "list them first"
            )
            return records.erasure_request(row)

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
        with self._write() as session:
            row = self._need(
                session, ErasureRequestRow, request_id, "erasure request", "check the id"
            )
            row.status = status
            if approved_by is not None:
                row.approved_by = approved_by
            if finished_at is not None:
                row.finished_at = finished_at
            if details is not None:
                row.details = records.plain(details)
            session.flush()
            return records.erasure_request(row)

    def scrub_client(self, client_id: str, at: datetime, actor: str) -> int:
        """Null the client's personal fields everywhere in the catalog (see the port)."""
        with self._write() as session:
            head = evidence_log.lock_head(session)
            client = self._need(session, ClientRow, client_id, "client", "check the id")
            changed = 0
            if client.display_name is not None:
                client.display_name = None
                changed += 1
            versions = session.scalars(
                select(PolicyVersionRow).where(PolicyVersionRow.client_id == client_id)
            )
            for row in versions:
                document = scrub_document(row.document) if row.document is not None else None
                changes = scrub_changes(list(row.changes))
                if document != row.document or changes != row.changes:
                    row.document, row.changes = document, changes
                    changed += 1
            evidence_log.append(
                session,
                head,
                actor=actor,
                action="client.scrubbed",
                subjects={"client": client_id},
                details={"rows_changed": changed, "fields": list(PERSONAL_PATHS)},
                at=at,
            )
            return changed

    def append_certificate(self, certificate: NewCertificate) -> Certificate:
        """Record ``certificate`` as the next leaf, serialized with evidence appends."""
        cert = certificate
        with self._write() as session:
            head = evidence_log.lock_head(session)
            if session.get(CertificateRow, cert.id) is not None:
                raise ConflictError(f"certificate {cert.id!r} already exists")
            size = session.scalar(
                select(func.count()).where(CertificateRow.leaf_index.is_not(None))
            )
            row = CertificateRow(
                id=cert.id,
                client_id=cert.client_id,
                erasure_request_id=cert.erasure_request_id,
                status=cert.status,
                issued_at=cert.issued_at,
                envelope_sha256=cert.envelope_sha256,
                leaf_index=int(size or 0),
                supersedes=cert.supersedes,
                bundle=records.plain(cert.bundle),
            )
            session.add(row)
            evidence_log.append(
                session,
                head,
                actor="retention-pipeline",
                action="certificate.logged",
                subjects={"client": cert.client_id, "certificate": cert.id},
                details={
                    "leaf_index": row.leaf_index,
                    "envelope_sha256": cert.envelope_sha256,
                    "status": cert.status,
                    "supersedes": cert.supersedes,
                },
                at=cert.issued_at,
            )
            session.flush()
            return records.certificate(row)

    def certificate_leaves(self, size: int | None = None) -> list[str]:
        """``envelope_sha256`` of the first ``size`` leaves (all: None), in leaf order."""
        query = (
            select(CertificateRow.envelope_sha256)
            .where(CertificateRow.leaf_index.is_not(None))
            .order_by(CertificateRow.leaf_index)
        )
        if size is not None:
            query = query.limit(size)
        with self._read() as session:
            return list(session.scalars(query))

    def get_certificate(self, certificate_id: str) -> Certificate:
        """One certificate; ``NotFoundError`` if the id is unknown."""
        with self._read() as session:
            row = self._need(
                session, CertificateRow, certificate_id, "certificate", "list them first"
            )
            return records.certificate(row)

    def set_certificate_bundle(
        self, certificate_id: str, bundle: dict[str, Any], delivered_to: Iterable[str] = ()
    ) -> Certificate:
        """Store the finished bundle and its destinations; the envelope must be the logged one."""
        # Imported here: the bundle module pulls in jsonschema, which every other catalog
        # use (every CLI command) would otherwise pay for at start-up.
        from retention_pipeline.envelope.bundle import envelope_sha256

        digest = envelope_sha256(bundle.get("envelope") or {})
        with self._write() as session:
            row = self._need(session, CertificateRow, certificate_id, "certificate", "check the id")
            if digest != row.envelope_sha256:
                raise ConflictError(
                    f"certificate {certificate_id!r}: the bundle's envelope is not the one "
                    "logged (SHA-256 differs); rebuild the bundle from the stored envelope"
                )
            row.bundle = records.plain(bundle)
            row.delivered_to = sorted({*(row.delivered_to or ()), *delivered_to})
            session.flush()
            return records.certificate(row)
