"""Recording integrity checks: each verification or restore drill leaves proof.

Whoever reads a recovery point back (the daily ``verify_backups`` slice, a restore
drill into a scratch database, an operator) calls ``record_verification`` with the
``ReadReport`` it got, so control C7 can show when every point was last proven readable.
The row and an ``integrity.checked`` evidence entry carry counts only, never data.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from retention_pipeline.ports.catalog import (
    Catalog,
    IntegrityCheck,
    IntegrityCheckKind,
    IntegrityCheckResult,
    NewIntegrityCheck,
)
from retention_pipeline.services.client_keys import SYSTEM_ACTOR


class CheckedRead(Protocol):
    """What a verification or restore reports (``services.restore.ReadReport`` fits)."""

    @property
    def recovery_point_id(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def tables(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def documents(self) -> int: ...
    @property
    def ok(self) -> bool: ...


def check_id(kind: IntegrityCheckKind, recovery_point_id: str, now: datetime) -> str:
    """A stable id for one check: the same check recorded twice is a ``ConflictError``."""
    digest = hashlib.sha256(f"{kind}|{recovery_point_id}|{now.isoformat()}".encode()).hexdigest()
    return f"ic-{now:%Y%m%dT%H%M%SZ}-{digest[:12]}"


def record_verification(
    catalog: Catalog,
    report: CheckedRead,
    kind: IntegrityCheckKind,
    now: datetime,
    *,
    problems: int | None = None,
) -> IntegrityCheck:
    """Record a finished check of ``report``'s recovery point as passed or failed.

    ``problems`` defaults to 0 when the report is ok, else 1 (a count, never the text:
    problem descriptions may name tables, which belong to the client).
    """
    result: IntegrityCheckResult = "passed" if report.ok else "failed"
    details = {
        "tables": report.tables,
        "rows": report.rows,
        "documents": report.documents,
        "problems": problems if problems is not None else (0 if report.ok else 1),
    }
    check = catalog.add_integrity_check(
        NewIntegrityCheck(
            id=check_id(kind, report.recovery_point_id, now),
            client_id=report.client_id,
            recovery_point_id=report.recovery_point_id,
            kind=kind,
            result=result,
            checked_at=now,
            details=details,
        )
    )
    catalog.append_evidence(
        SYSTEM_ACTOR,
        "integrity.checked",
        {"client": report.client_id, "recovery_point": report.recovery_point_id, "check": check.id},
        {"kind": kind, "result": result, **details},
        now,
    )
    return check
