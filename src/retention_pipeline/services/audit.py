"""The audit: read the catalog into an ``AuditSnapshot`` and evaluate the controls on it.

Everything with I/O or keys happens here, once, before the pure controls run: each
certificate bundle is verified offline with the installation's public key, the evidence
chain is walked and checked against the evidence checkpoints of the witness store
(``evidence_witness``), and the certificate log's two newest checkpoints are checked against
each other (RFC 9162 consistency proof) and against the catalog's leaves. Controls only
ever see the verdicts. Nothing read here is written anywhere: the snapshot carries ids,
times, counts and the parsed policies, whose personal fields no control reports.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from retention_pipeline.domain.audit_snapshot import (
    AuditSnapshot,
    CertificateFacts,
    ClientSnapshot,
    KeyFacts,
    LogConsistency,
    PolicyPeriod,
)
from retention_pipeline.domain.controls import ControlResult, Grace, evaluate
from retention_pipeline.domain.evidence import ChainVerdict, verify_chain
from retention_pipeline.domain.policy import DEFER_RULES, ClientPolicy
from retention_pipeline.domain.settings import Settings
from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.age import Recipient
from retention_pipeline.envelope.bundle import verify_bundle
from retention_pipeline.envelope.checkpoint import Checkpoint, verify_checkpoint
from retention_pipeline.envelope.dsse import CertificateError
from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.catalog import Catalog, Certificate, ClientKey, PolicyVersion
from retention_pipeline.services.evidence_witness import EvidenceWitness
from retention_pipeline.services.transparency import CertificateLog, verify_consistency


class AuditedInstallation(Protocol):
    """What ``audit`` needs of ``bootstrap.Installation``."""

    @property
    def settings(self) -> Settings: ...
    @property
    def catalog(self) -> Catalog: ...
    def signing_key(self, *, create: bool = False) -> Ed25519PrivateKey: ...
    def evidence_witness(self) -> EvidenceWitness: ...


def audit(
    installation: AuditedInstallation,
    now: datetime,
    *,
    grace: Grace | None = None,
    verify_window_days: int = 30,
    drill_window_days: int = 90,
) -> list[ControlResult]:
    """Every control's verdict for every client of the installation at ``now``."""
    catalog = installation.catalog
    public_key = None
    if catalog.certificate_leaves():
        # Only an installation that issued certificates has (and needs) the key file.
        public_key = installation.signing_key().public_key()
    snapshot = build_snapshot(
        catalog, installation.settings, public_key, now, evidence=evidence_verdict(installation)
    )
    return evaluate(
        snapshot,
        now,
        grace=grace,
        verify_window_days=verify_window_days,
        drill_window_days=drill_window_days,
    )


def build_snapshot(
    catalog: Catalog,
    settings: Settings,
    public_key: Ed25519PublicKey | None,
    now: datetime,
    *,
    evidence: ChainVerdict | None = None,
) -> AuditSnapshot:
    """Read every client's records and check the logs; records after ``now`` are left out.

    ``public_key`` verifies certificate bundles and checkpoints; ``None`` (no certificate
    key) makes every certificate count as unverified. ``evidence`` is the evidence log's
    verdict against its witness (``evidence_verdict``); ``None`` walks the chain alone.
    """
    clients = tuple(
        _client(catalog, record.client_id, public_key, now) for record in catalog.list_clients()
    )
    return AuditSnapshot(
        clients=clients,
        evidence=evidence or verify_chain(catalog.evidence_entries()),
        certificate_log=log_consistency(catalog, public_key),
        store_locations={name: spec.location for name, spec in settings.stores.items()},
    )


def evidence_verdict(installation: AuditedInstallation) -> ChainVerdict:
    """The evidence log checked as ``log verify`` checks it, as the snapshot carries it.

    ``checked`` is the last trusted entry, so ``first_bad_seq`` follows it.
    """
    verdict = installation.evidence_witness().verify()
    return ChainVerdict(verdict.ok, verdict.last_trusted_seq, verdict.first_bad_seq, verdict.reason)


def _client(
    catalog: Catalog, client_id: str, public_key: Ed25519PublicKey | None, now: datetime
) -> ClientSnapshot:
    versions = [v for v in catalog.policy_history(client_id) if v.recorded_at <= now]
    key = catalog.get_client_key(client_id)
    latest = versions[-1] if versions else None
    return ClientSnapshot(
        client_id=client_id,
        policy=_policy(latest),
        policy_version=latest.version if latest else None,
        policy_recorded_at=latest.recorded_at if latest else None,
        history=tuple(_period(v, key) for v in versions),
        key=KeyFacts(key.fingerprint, key.state, key.created_at) if key else None,
        recovery_points=tuple(
            p for p in catalog.list_recovery_points(client_id) if p.created_at <= now
        ),
        archive_copies=tuple(
            c for c in catalog.list_archive_copies(client_id) if c.created_at <= now
        ),
        archive_attempts=tuple(
            a for a in catalog.list_archive_attempts(client_id) if a.started_at <= now
        ),
        erasure_requests=tuple(
            r for r in catalog.list_erasure_requests(client_id) if r.created_at <= now
        ),
        certificates=tuple(
            _certificate(c, public_key)
            for c in catalog.list_certificates(client_id)
            if c.issued_at <= now
        ),
        integrity_checks=tuple(
            c for c in catalog.list_integrity_checks(client_id) if c.checked_at <= now
        ),
    )


def _policy(version: PolicyVersion | None) -> ClientPolicy | None:
    """The parsed policy of a version (``None`` when the client's policy was removed)."""
    if version is None or version.document is None:
        return None
    try:
        return ClientPolicy.model_validate(version.document, context=DEFER_RULES)
    except ValueError:
        raise ConfigError(
            f"catalog: client {version.client_id!r} policy version {version.version} does "
            "not parse with this release; run 'retention-pipeline policy check' and re-apply"
        ) from None


def _period(version: PolicyVersion, key: ClientKey | None) -> PolicyPeriod:
    """The version reduced to its options and the recipients it asks backups for."""
    document: Mapping[str, Any] = version.document or {}
    backup, archive = document.get("backup") or {}, document.get("archive") or {}
    protection = document.get("protection") or {}
    recipients = {
        Recipient.from_string(str(r)).fingerprint()
        for r in protection.get("client_recipients") or []
    }
    if protection.get("hoster_can_decrypt", True) and key is not None:
        recipients.add(key.fingerprint)
    return PolicyPeriod(
        version=version.version,
        recorded_at=version.recorded_at,
        backup_active=version.document is not None and backup.get("mode", "off") != "off",
        archive_active=version.document is not None and bool(archive.get("enabled", False)),
        recipients=frozenset(recipients),
    )


def _certificate(certificate: Certificate, public_key: Ed25519PublicKey | None) -> CertificateFacts:
    """The certificate with the result of verifying its bundle offline."""
    verified = False
    if public_key is not None:
        try:
            checked = verify_bundle(certificate.bundle, public_key)
            verified = (
                checked.envelope_sha256 == certificate.envelope_sha256
                and checked.leaf_index == certificate.leaf_index
            )
        except CertificateError:
            verified = False
    return CertificateFacts(
        id=certificate.id,
        erasure_request_id=certificate.erasure_request_id,
        status=certificate.status,
        issued_at=certificate.issued_at,
        verified=verified,
    )


def log_consistency(catalog: Catalog, public_key: Ed25519PublicKey | None) -> LogConsistency:
    """Check the two newest checkpoints (found in bundles) against each other and the log.

    The newest must commit to the root of the catalog's first ``size`` leaves, and the
    one before it must be a prefix of it (consistency proof, from 0 when there is one).
    """
    leaves = catalog.certificate_leaves()
    if not leaves:
        return LogConsistency(True, 0, 0, "empty certificate log")
    if public_key is None:
        return LogConsistency(False, 0, len(leaves), "no certificate key to verify checkpoints")
    checkpoints = _checkpoints(catalog, public_key)
    if checkpoints is None:
        return LogConsistency(False, 0, len(leaves), "a checkpoint does not verify")
    if not checkpoints:
        return LogConsistency(False, 0, len(leaves), "no checkpoint in any bundle")
    new = checkpoints[-1]
    old = checkpoints[-2] if len(checkpoints) > 1 else None
    old_size = old.size if old else 0
    if new.size > len(leaves):
        return LogConsistency(False, old_size, new.size, "the log has fewer leaves than signed")
    hashes = [bytes.fromhex(h) for h in leaves[: new.size]]
    if merkle.root(hashes) != new.root:
        return LogConsistency(False, old_size, new.size, "leaves differ from the checkpoint")
    if old is not None:
        log = CertificateLog(catalog, _no_signing, origin=new.origin)
        proof = json.dumps(log.consistency(old.size, new.size)).encode()
        try:
            verify_consistency(old.text, new.text, proof, public_key)
        except CertificateError:
            return LogConsistency(False, old.size, new.size, "checkpoints are inconsistent")
    return LogConsistency(True, old_size, new.size, "checkpoints consistent with the log")


def _checkpoints(catalog: Catalog, public_key: Ed25519PublicKey) -> list[Checkpoint] | None:
    """Distinct verified checkpoints by size (None: one of them does not verify)."""
    by_size: dict[int, Checkpoint] = {}
    for certificate in catalog.list_certificates():
        text = certificate.bundle.get("checkpoint")
        if text is None:
            continue
        try:
            checkpoint = verify_checkpoint(text, public_key)
        except CertificateError:
            return None
        by_size[checkpoint.size] = checkpoint
    return [by_size[size] for size in sorted(by_size)]


def _no_signing() -> Ed25519PrivateKey:
    """The audit proves, it never signs: the log is opened without the private key."""
    raise ConfigError("the audit does not sign checkpoints")
