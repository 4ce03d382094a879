"""Issuing a destruction certificate: build, sign, log, render and deliver (DESIGN section 4).

Called only after every verification of an erasure passed. Order: append an evidence
entry that closes the erasure -> build the predicate with that entry's hash as
``evidence_head`` -> sign (DSSE, Ed25519) -> append the envelope to the certificate log
-> write the bundle (JSON) and its PDF rendering to each destination of the order form's
``erasure.certificate_to`` -> record the destinations in the catalog -> sign the evidence
log's checkpoint into the witness store, if one is configured. A failed delivery
leaves the certificate logged and recorded; issuing again for the same request is not
needed, ``deliver`` can be repeated. A failed checkpoint is logged as a warning and
never undoes the certificate: the daily ``log checkpoint-evidence`` task writes the next.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from retention_pipeline import __version__
from retention_pipeline.domain.erasure import Certified, Entry, build_predicate
from retention_pipeline.domain.erasure_record import ErasureRecord
from retention_pipeline.envelope.bundle import bundle_bytes, sign_certificate
from retention_pipeline.envelope.certificate_pdf import render_pdf
from retention_pipeline.envelope.certificate_predicate import DestructionPredicate
from retention_pipeline.envelope.dsse import key_fingerprint
from retention_pipeline.errors import ConfigError, RetentionError
from retention_pipeline.ports.catalog import Catalog, Certificate, ErasureRequest
from retention_pipeline.ports.store import ObjectStore
from retention_pipeline.services.client_keys import SYSTEM_ACTOR
from retention_pipeline.services.evidence_witness import EvidenceWitness
from retention_pipeline.services.transparency import CertificateLog

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate that was signed, logged and delivered."""

    certificate: Certificate
    predicate: DestructionPredicate
    delivered_to: tuple[str, ...]


@dataclass
class CertificateIssuer:
    """Everything issuing needs, injected by bootstrap."""

    catalog: Catalog
    log: CertificateLog
    signing_key: Callable[[], Ed25519PrivateKey]
    destination: Callable[[str], ObjectStore]
    issuer: str
    new_id: Callable[[], str]
    witness: EvidenceWitness | None = None

    def issue(
        self,
        request: ErasureRequest,
        record: ErasureRecord,
        residual: Sequence[Entry],
        destinations: Sequence[str],
        *,
        now: datetime,
        airflow_run_id: str | None,
    ) -> IssuedCertificate:
        """Sign, log and deliver the certificate of ``request`` (see the module docstring)."""
        key_info = record.key_destruction()
        if key_info is None:
            raise ConfigError(
                f"erasure request {request.id!r}: the client key was not destroyed; "
                "run the erasure again"
            )
        closing = self.catalog.append_evidence(
            request.requested_by,
            "erasure.verified",
            {"client": request.client_id, "erasure_request": request.id},
            {
                "versions": len(record.entries()),
                "residual": len(residual),
                "stores": sorted(record.locations),
            },
            now,
        )
        facts = Certified(
            certificate_id=self.new_id(),
            issued_at=now,
            issuer=self.issuer,
            client_id=request.client_id,
            contract_reference=record.data.get("contract_reference"),
            trigger=request.trigger,
            legal_basis=record.data.get("legal_basis"),
            requester_id=request.requested_by,
            approver_id=request.approved_by,
            key_destruction=key_info,
            tool_version=__version__,
            airflow_run_id=airflow_run_id,
            evidence_head=closing.hash,
            supersedes=record.last_certificate,
        )
        predicate = build_predicate(facts, record.entries(), record.locations, residual)
        envelope = sign_certificate(predicate, self.signing_key())
        logged = self.log.append(
            envelope,
            certificate_id=predicate.certificate_id,
            client_id=request.client_id,
            status=predicate.status,
            issued_at=now,
            erasure_request_id=request.id,
            supersedes=facts.supersedes,
        )
        delivered = self.deliver(logged.certificate, predicate, destinations)
        self._witness(predicate.certificate_id, now)
        return IssuedCertificate(self.catalog.get_certificate(predicate.certificate_id),
                                 predicate, delivered)  # fmt: skip

    def deliver(
        self, certificate: Certificate, predicate: DestructionPredicate, destinations: Sequence[str]
    ) -> tuple[str, ...]:
        """Write ``<id>.bundle.json`` and ``<id>.pdf`` to each destination; record them."""
        data = bundle_bytes(certificate.bundle)
        pdf = render_pdf(
            predicate,
            envelope_sha256=certificate.envelope_sha256,
            key_fingerprint=key_fingerprint(self.signing_key().public_key()),
        )
        for url in destinations:
            store = self.destination(url)
            store.put(f"{certificate.id}.bundle.json", [data], size_hint=len(data))
            store.put(f"{certificate.id}.pdf", [pdf], size_hint=len(pdf))
        self.catalog.set_certificate_bundle(certificate.id, certificate.bundle, destinations)
        self.catalog.append_evidence(
            SYSTEM_ACTOR,
            "certificate.delivered",
            {"client": certificate.client_id, "certificate": certificate.id},
            {"destinations": len(destinations), "envelope_sha256": certificate.envelope_sha256},
            predicate.issued_at,
        )
        return tuple(destinations)

    def _witness(self, certificate_id: str, now: datetime) -> None:
        """Checkpoint the evidence log now that it records this certificate (if witnessed)."""
        if self.witness is None or self.witness.store is None:
            return
        try:
            self.witness.write(now)
        except RetentionError as error:
            _log.warning(
                "certificate %s issued, but no evidence checkpoint was written: %s",
                certificate_id,
                error,
            )
