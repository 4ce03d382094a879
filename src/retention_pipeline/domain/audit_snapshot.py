"""The audit snapshot: everything the compliance controls look at, frozen at one instant.

Vocabulary: a *snapshot* is read from the catalog and the settings by
``services.audit.build_snapshot``; the controls (``domain.controls``) are pure functions
over it. Whatever needs I/O or keys (verifying a certificate's signature, walking the
evidence chain, proving the certificate log's consistency) is done while the snapshot is
built, and only its verdict lands here, so the controls can be tested with hand-made
snapshots and never touch a store, a key or a clock.

The snapshot holds opaque ids, times and counts only: the policy is kept as the parsed
order form, whose personal fields never leave it (controls put none in their evidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from retention_pipeline.domain.evidence import ChainVerdict
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.ports.catalog import (
    ArchiveAttempt,
    ArchiveCopy,
    ErasureRequest,
    IntegrityCheck,
    RecoveryPoint,
)


@dataclass(frozen=True)
class PolicyPeriod:
    """One recorded policy version, reduced to what controls compare against.

    ``recipients`` are the fingerprints a recovery point written under this version must
    be encrypted to (the client key when the hoster may decrypt, plus the client's own).
    """

    version: int
    recorded_at: datetime
    backup_active: bool
    archive_active: bool
    recipients: frozenset[str] = frozenset()


@dataclass(frozen=True)
class KeyFacts:
    """The client key as the catalog holds it (public fingerprint and state only)."""

    fingerprint: str
    state: str
    created_at: datetime


@dataclass(frozen=True)
class CertificateFacts:
    """A destruction certificate and whether its bundle verified offline."""

    id: str
    erasure_request_id: str | None
    status: str
    issued_at: datetime
    verified: bool


@dataclass(frozen=True)
class ClientSnapshot:
    """One client's order form against what the catalog says was done."""

    client_id: str
    policy: ClientPolicy | None
    policy_version: int | None = None
    policy_recorded_at: datetime | None = None
    history: tuple[PolicyPeriod, ...] = ()
    key: KeyFacts | None = None
    recovery_points: tuple[RecoveryPoint, ...] = ()
    archive_copies: tuple[ArchiveCopy, ...] = ()
    archive_attempts: tuple[ArchiveAttempt, ...] = ()
    erasure_requests: tuple[ErasureRequest, ...] = ()
    certificates: tuple[CertificateFacts, ...] = ()
    integrity_checks: tuple[IntegrityCheck, ...] = ()

    def period_at(self, at: datetime) -> PolicyPeriod | None:
        """The policy version in force at ``at`` (the newest recorded at or before it)."""
        current = None
        for period in sorted(self.history, key=lambda p: p.version):
            if period.recorded_at <= at:
                current = period
        return current


@dataclass(frozen=True)
class LogConsistency:
    """Whether the certificate log's checkpoints and leaves agree (checked outside)."""

    ok: bool
    old_size: int
    new_size: int
    reason: str


@dataclass(frozen=True)
class AuditSnapshot:
    """Every client, the stores' declared locations, and the two log verdicts."""

    clients: tuple[ClientSnapshot, ...]
    evidence: ChainVerdict
    certificate_log: LogConsistency
    store_locations: Mapping[str, str | None] = field(default_factory=dict)
