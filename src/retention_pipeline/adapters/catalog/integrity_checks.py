"""Integrity checks in the catalog: rolling verifications and restore drills.

Why rows and not only evidence entries: the audit asks "when was this recovery point
last read back?" for every point, every day; a table indexed by client and time answers
that without walking the whole evidence log. Each row is written once and never changed.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import select

from retention_pipeline.adapters.catalog import records
from retention_pipeline.adapters.catalog.models import (
    ClientRow,
    IntegrityCheckRow,
    RecoveryPointRow,
)
from retention_pipeline.adapters.catalog.transactions import Transactions
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import (
    ConflictError,
    IntegrityCheck,
    IntegrityCheckKind,
    IntegrityCheckResult,
    NewIntegrityCheck,
)


def integrity_check(row: IntegrityCheckRow) -> IntegrityCheck:
    """The port record of one row (details copied, times in UTC)."""
    return IntegrityCheck(
        id=row.id,
        client_id=row.client_id,
        recovery_point_id=row.recovery_point_id,
        kind=cast(IntegrityCheckKind, row.kind),
        result=cast(IntegrityCheckResult, row.result),
        checked_at=records.utc(row.checked_at),
        details=records.plain(row.details),
    )


class IntegrityChecks(Transactions):
    """The integrity-check methods of ``SqlCatalog``."""

    def add_integrity_check(self, check: NewIntegrityCheck) -> IntegrityCheck:
        """Record one check; the recovery point must be the client's own."""
        with self._write() as session:
            self._need(session, ClientRow, check.client_id, "client", "record its policy first")
            rp = self._need(
                session,
                RecoveryPointRow,
                check.recovery_point_id,
                "recovery point",
                "check the id with: retention-pipeline backup list",
            )
            if rp.client_id != check.client_id:
                raise NotFoundError(
                    f"recovery point {check.recovery_point_id!r} is not one of client "
                    f"{check.client_id!r}'s; check the client and recovery point ids"
                )
            if session.get(IntegrityCheckRow, check.id) is not None:
                raise ConflictError(f"integrity check {check.id!r} is already recorded")
            row = IntegrityCheckRow(
                id=check.id,
                client_id=check.client_id,
                recovery_point_id=check.recovery_point_id,
                kind=check.kind,
                result=check.result,
                checked_at=check.checked_at,
                details=records.plain(check.details),
            )
            session.add(row)
            session.flush()
            return integrity_check(row)

    def list_integrity_checks(self, client_id: str | None = None) -> list[IntegrityCheck]:
        """Checks oldest first (ties by id), of one client when given."""
        query = select(IntegrityCheckRow).order_by(
            IntegrityCheckRow.checked_at, IntegrityCheckRow.id
        )
        if client_id is not None:
            query = query.where(IntegrityCheckRow.client_id == client_id)
        with self._read() as session:
            return [integrity_check(r) for r in session.scalars(query)]
