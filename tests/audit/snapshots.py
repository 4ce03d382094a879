"""Hand-built audit snapshots: a healthy client, and the one change each test makes.

The healthy client (``healthy()``) is compliant with every control that applies to it
at ``NOW``: daily automated backups for the last 30 days, each verified, a restore drill
10 days ago, monthly archive copies with the declared lock, stores in eu-west-3.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from retention_pipeline.domain.audit_snapshot import (
    AuditSnapshot,
    ClientSnapshot,
    KeyFacts,
    LogConsistency,
    PolicyPeriod,
)
from retention_pipeline.domain.controls import ControlResult, evaluate
from retention_pipeline.domain.evidence import ChainVerdict
from retention_pipeline.domain.policy import ClientPolicy
from retention_pipeline.ports.catalog import ArchiveCopy, IntegrityCheck, RecoveryPoint

CLIENT = "acme-sas"
T0 = datetime(2026, 1, 1, tzinfo=UTC)  # the policy was recorded
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
KEY_FP = "a" * 64
STRANGER_FP = "f" * 64
STORES: dict[str, str | None] = {
    "backups": "eu-west-3",
    "archives": "eu-west-3",
    "backups-us": "us-east-1",
    "archives-nowhere": None,
}
BASE: dict[str, Any] = {
    "client": CLIENT,
    "source": {"database": {"connection": "crm"}},
    "backup": {
        "mode": "automated",
        "schedule": "0 2 * * *",
        "storage": "backups",
        "retention": {"max_age": "35d", "min_age": "7d"},
    },
    "archive": {
        "enabled": True,
        "every": "monthly",
        "storage": "archives",
        "retention": {"max_age": "400d"},
        "lock": {"mode": "compliance", "days": 365},
    },
    "legal_basis": "contract",
}


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied section by section (nested dicts merged)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def policy(**changes: Any) -> ClientPolicy:
    """The healthy order form with some sections changed."""
    return ClientPolicy.from_document(merged(BASE, changes))


def day(n: int) -> datetime:
    """02:00 UTC, ``n`` days before ``NOW``'s day (0: today's slot)."""
    return NOW.replace(hour=2) - timedelta(days=n)


def point(rp_id: str, created: datetime, **changes: Any) -> RecoveryPoint:
    """A complete recovery point on the backup store, encrypted to the client key."""
    rp = RecoveryPoint(
        id=rp_id, client_id=CLIENT, store="backups", key=f"{CLIENT}/{rp_id}.age",
        status="complete", created_at=created, scheduled_for=created, requested_by=None,
        recipients=(KEY_FP,), size=100, sha256="0" * 64, version_id="v1",
        manifest_sha256=None, completed_at=created + timedelta(minutes=1), failed_at=None,
        deleted_at=None, reason=None,
    )  # fmt: skip
    return replace(rp, **changes)


def copy(copy_id: str, rp: RecoveryPoint, **changes: Any) -> ArchiveCopy:
    """A present archive copy of ``rp``, made an hour later, locked as declared."""
    made = rp.created_at + timedelta(hours=1)
    ac = ArchiveCopy(
        id=copy_id, recovery_point_id=rp.id, client_id=CLIENT, store="archives",
        key=f"{CLIENT}/{rp.id}.age", version_id="v1", size=100, sha256="0" * 64,
        storage_class=None, lock_mode="compliance", lock_until=made + timedelta(days=365),
        created_at=made, status="present", deleted_at=None, reason=None,
    )  # fmt: skip
    return replace(ac, **changes)


def check(
    rp: RecoveryPoint, at: datetime, kind: str = "verify", result: str = "passed"
) -> IntegrityCheck:
    """A recorded verification (or restore drill) of ``rp``."""
    return IntegrityCheck(
        id=f"ic-{kind}-{rp.id}-{at:%Y%m%d%H%M}", client_id=CLIENT, recovery_point_id=rp.id,
        kind=kind, result=result, checked_at=at, details={"tables": 1},  # type: ignore[arg-type]
    )  # fmt: skip


def period(version: int = 1, at: datetime = T0, *, backup: bool = True, archive: bool = True,
           recipients: frozenset[str] = frozenset({KEY_FP})) -> PolicyPeriod:  # fmt: skip
    """One recorded policy version."""
    return PolicyPeriod(version, at, backup, archive, recipients)


def healthy(**changes: Any) -> ClientSnapshot:
    """The compliant client described in the module docstring, with ``changes``."""
    points = tuple(point(f"rp-{n:02d}", day(n)) for n in range(30, -1, -1))
    by_day = {p.created_at: p for p in points}
    copies = (copy("ac-may", by_day[day(30)]), copy("ac-jun", by_day[day(14)]))
    checks = tuple(check(p, NOW - timedelta(days=1)) for p in points)
    drill = check(points[-2], NOW - timedelta(days=10), kind="restore_drill")
    client = ClientSnapshot(
        client_id=CLIENT,
        policy=policy(),
        policy_version=1,
        policy_recorded_at=T0,
        history=(period(),),
        key=KeyFacts(KEY_FP, "active", T0),
        recovery_points=points,
        archive_copies=copies,
        integrity_checks=(*checks, drill),
    )
    return replace(client, **changes)


def snapshot(*clients: ClientSnapshot, chain_ok: bool = True, log_ok: bool = True) -> AuditSnapshot:
    """The installation around ``clients``."""
    chain = ChainVerdict(chain_ok, 12, None if chain_ok else 7, "test")
    return AuditSnapshot(
        clients=clients or (healthy(),),
        evidence=chain,
        certificate_log=LogConsistency(log_ok, 1, 2, "test"),
        store_locations=STORES,
    )


def result(
    control_id: str, *clients: ClientSnapshot, now: datetime = NOW, **options: Any
) -> ControlResult:
    """The one result of ``control_id`` for ``CLIENT`` (or ``*``) in that snapshot."""
    chain_ok, log_ok = options.pop("chain_ok", True), options.pop("log_ok", True)
    results = evaluate(snapshot(*clients, chain_ok=chain_ok, log_ok=log_ok), now, **options)
    wanted = "*" if control_id == "C9" else CLIENT
    (found,) = [r for r in results if r.control_id == control_id and r.client_id == wanted]
    return found
