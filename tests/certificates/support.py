"""A realistic destruction predicate and a small certificate log to make bundles from."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from retention_pipeline.envelope import merkle
from retention_pipeline.envelope.bundle import envelope_leaf, make_bundle, sign_certificate
from retention_pipeline.envelope.certificate import (
    DestructionPredicate,
    KeyDestructionInfo,
    LocationResult,
    ResidualCopy,
    Verification,
    entry_digest,
    location_digest,
)
from retention_pipeline.envelope.checkpoint import sign_checkpoint

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ORIGIN = "crm-hoster.example/certificates"
ISSUED = datetime(2026, 5, 4, 10, 30, 15, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64

BACKUP_OBJECTS = [
    ("acme-sas/rp/01J0000000000000000000001.age", "v1", SHA_A),
    ("acme-sas/rp/01J0000000000000000000002.age", "v7", SHA_B),
]
ARCHIVE_OBJECTS = [("archives/acme-sas/2025-12.age", "3HL4kqtJlcpXroDTDmJ", SHA_A)]


def predicate(**changes: Any) -> DestructionPredicate:
    """A completed_with_exceptions certificate over a backup and an archive store."""
    passed = Verification(method="list-versions+head", result="passed")
    base = DestructionPredicate(
        certificate_id="cert-01J0000000000000000000042",
        issued_at=ISSUED,
        issuer="crm-hoster.example",
        status="completed_with_exceptions",
        client_id="acme-sas",
        contract_reference="BC-2026-0042",
        trigger="contract_end",
        legal_basis="contract",
        requester_id="staff-0012",
        approver_id="staff-0003",
        locations=(
            LocationResult(
                store="backups-eu",
                location="eu-west-3",
                method="delete",
                objects=2,
                versions=2,
                bytes=123_456,
                digest=location_digest(BACKUP_OBJECTS),
                verification=passed,
            ),
            LocationResult(
                store="archives-eu-cold",
                location="eu-west-3",
                method="crypto-erase",
                objects=1,
                versions=1,
                bytes=99_000,
                digest=location_digest(ARCHIVE_OBJECTS),
                verification=passed,
            ),
        ),
        key_destruction=KeyDestructionInfo(
            key_fingerprint="c" * 64,
            custody="aws-kms",
            kek_id="arn:aws:kms:eu-west-3:111122223333:key/1234abcd",
            method="schedule-key-deletion",
            destroyed_at=ISSUED,
            deletion_date=datetime(2026, 5, 11, 10, 30, tzinfo=UTC),
            verification=Verification(method="decrypt-refused", result="passed"),
        ),
        residual_copies=(
            ResidualCopy(
                store="archives-eu-cold",
                location="eu-west-3",
                key_digest=entry_digest(*ARCHIVE_OBJECTS[0]),
                locked_until=datetime(2035, 12, 1, tzinfo=UTC),
            ),
        ),
        tool_version="0.1.0",
        airflow_run_id="manual__2026-05-04T10:00:00+00:00",
        evidence_head="d" * 64,
    )
    return dataclasses.replace(base, **changes)


def log_bundle(
    certificate: DestructionPredicate | None = None,
    *,
    key: Ed25519PrivateKey = KEY,
    index: int = 3,
    size: int = 6,
) -> dict[str, Any]:
    """A bundle for ``certificate`` at ``index`` in a log of ``size`` certificates."""
    certificate = certificate or predicate()
    envelopes = [
        sign_certificate(dataclasses.replace(certificate, certificate_id=f"cert-{n}"), key)
        for n in range(size)
    ]
    envelopes[index] = sign_certificate(certificate, key)
    leaves = [envelope_leaf(envelope) for envelope in envelopes]
    root = merkle.root(leaves)
    return make_bundle(
        envelopes[index],
        leaf_index=index,
        tree_size=size,
        path=merkle.inclusion_proof(index, leaves),
        root=root,
        checkpoint=sign_checkpoint(ORIGIN, size, root, key),
    )
