"""``SqlCatalog``: the catalog port on SQLAlchemy, for SQLite and PostgreSQL.

Every public method runs in one transaction of its own. Writes go through ``_write``
(SQLite: ``BEGIN IMMEDIATE``); writes that log evidence take the evidence head lock
first, which also serializes them against each other (policy versions of one client
cannot race for the same number). Existence and uniqueness are checked inside the
transaction so the errors can name the object; a constraint violation that still slips
through a race becomes ``ConflictError``, never a driver exception.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update

from retention_pipeline.adapters.catalog import evidence_log, records
from retention_pipeline.adapters.catalog.archive_and_erasure import ArchiveAndErasure
from retention_pipeline.adapters.catalog.client_keys import ClientKeys
from retention_pipeline.adapters.catalog.client_locks import ClientLocks
from retention_pipeline.adapters.catalog.erasure_records import ErasureRecords
from retention_pipeline.adapters.catalog.integrity_checks import IntegrityChecks
from retention_pipeline.adapters.catalog.models import (
    ClientRow,
    PolicyVersionRow,
    RecoveryPointRow,
)
from retention_pipeline.domain.evidence import EvidenceEntry, canonical_json
from retention_pipeline.ports.catalog import (
    RECOVERY_POINT_TRANSITIONS,
    ClientRecord,
    ConflictError,
    NewRecoveryPoint,
    PolicyVersion,
    RecoveryPoint,
    RecoveryPointStatus,
    TransitionError,
)

EVIDENCE_PAGE = 500


def policy_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON: equal documents, equal digests."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


class SqlCatalog(ArchiveAndErasure, ClientKeys, ClientLocks, ErasureRecords, IntegrityChecks):
    """The catalog on one SQLAlchemy engine (see the module docstring)."""

    # -- policies ---------------------------------------------------------------------

    def record_policy_version(
        self,
        client_id: str,
        document: dict[str, Any] | None,
        changes: list[dict[str, Any]],
        actor: str,
        at: datetime,
        display_name: str | None = None,
    ) -> PolicyVersion:
        """Store version N+1 (client created if new) and its evidence entry, atomically."""
        stored = records.plain(document) if document is not None else None
        digest = policy_digest(stored) if stored is not None else None
        paths = [str(change["path"]) for change in changes]
        with self._write() as session:
            head = evidence_log.lock_head(session)
            client = session.get(ClientRow, client_id)
            if client is None:
                client = ClientRow(
                    client_id=client_id, created_at=at, current_version=0, removed=False
                )
                session.add(client)
            client.current_version += 1
            client.removed = stored is None
            if stored is not None:
                client.display_name = display_name
            row = PolicyVersionRow(
                client_id=client_id,
                version=client.current_version,
                document=stored,
                digest=digest,
                changes=records.plain(changes),
                actor=actor,
                recorded_at=at,
            )
            session.add(row)
            evidence_log.append(
                session,
                head,
                actor=actor,
                action="policy.recorded",
                subjects={"client": client_id, "policy_version": str(row.version)},
                details={"changed_fields": paths, "digest": digest},
                at=at,
            )
            return records.policy_version(row)

    def latest_policy(self, client_id: str) -> PolicyVersion | None:
        """The newest version, or ``None`` for a client never recorded."""
        with self._read() as session:
            row = session.scalars(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.client_id == client_id)
                .order_by(PolicyVersionRow.version.desc())
                .limit(1)
            ).first()
            return records.policy_version(row) if row is not None else None

    def policy_history(self, client_id: str) -> list[PolicyVersion]:
        """Every version of the client's policy, oldest first; empty if unknown."""
        with self._read() as session:
            rows = session.scalars(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.client_id == client_id)
                .order_by(PolicyVersionRow.version)
            )
            return [records.policy_version(r) for r in rows]

    def list_clients(self) -> list[ClientRecord]:
        """Every client ever recorded, removed ones included, by client id."""
        with self._read() as session:
            rows = session.scalars(select(ClientRow).order_by(ClientRow.client_id))
            return [records.client_record(r) for r in rows]

    # -- recovery points ----------------------------------------------------------------

    def add_recovery_point(self, rp: NewRecoveryPoint) -> RecoveryPoint:
        """Record a ``pending`` recovery point; ``ConflictError`` if id or slot is taken."""
        with self._write() as session:
            self._need(session, ClientRow, rp.client_id, "client", "record its policy first")
            if session.get(RecoveryPointRow, rp.id) is not None:
                raise ConflictError(f"recovery point {rp.id!r} already exists; use a new id")
            if rp.scheduled_for is not None:
                taken = session.scalars(
                    select(RecoveryPointRow.id).where(
                        RecoveryPointRow.client_id == rp.client_id,
                        RecoveryPointRow.scheduled_for == rp.scheduled_for,
                    )
                ).first()
                if taken is not None:
                    slot = rp.scheduled_for.astimezone(UTC).isoformat()
                    raise ConflictError(
                        f"client {rp.client_id!r} already has recovery point {taken!r} for "
                        f"the slot {slot}; reuse or delete that one"
                    )
            row = RecoveryPointRow(
                id=rp.id,
                client_id=rp.client_id,
                store=rp.store,
                key=rp.key,
                status="pending",
                created_at=rp.created_at,
                scheduled_for=rp.scheduled_for,
                requested_by=rp.requested_by,
                recipients=list(rp.recipients),
            )
            session.add(row)
            session.flush()
            return records.recovery_point(row)

    def _transition(
        self,
        rp_id: str,
        target: RecoveryPointStatus,
        values: dict[str, Any],
        attempt: int | None = None,
    ) -> RecoveryPoint:
        """Move ``rp_id`` to ``target`` only from an allowed status (and, when ``attempt``
        is given, only if the row is still that attempt), in one UPDATE."""
        allowed = RECOVERY_POINT_TRANSITIONS[target]
        conditions = [RecoveryPointRow.id == rp_id, RecoveryPointRow.status.in_(allowed)]
        if attempt is not None:
            conditions.append(RecoveryPointRow.attempts == attempt)
        with self._write() as session:
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(RecoveryPointRow)
                .where(*conditions)
                .values(status=target, **values)
                .execution_options(synchronize_session=False)
            )
            row = self._need(session, RecoveryPointRow, rp_id, "recovery point", "check the id")
            if result.rowcount == 0 and row.status in allowed:
                raise TransitionError(
                    f"recovery point {rp_id!r} was taken over by attempt {row.attempts} of its "
                    f"slot; attempt {attempt} can no longer change it; nothing was changed"
                )
            if result.rowcount == 0:
                raise TransitionError(
                    f"recovery point {rp_id!r} is {row.status}; it can become {target} only "
                    f"from {', '.join(sorted(allowed))}; nothing was changed"
                )
            session.refresh(row)
            return records.recovery_point(row)

    def complete_recovery_point(
        self,
        rp_id: str,
        *,
        size: int,
        sha256: str,
        version_id: str,
        at: datetime,
        manifest_sha256: str | None = None,
        attempt: int | None = None,
    ) -> RecoveryPoint:
        """pending -> complete, after the stored object was read back and checked."""
        values = {
            "size": size,
            "sha256": sha256,
            "version_id": version_id,
            "completed_at": at,
            "manifest_sha256": manifest_sha256,
        }
        return self._transition(rp_id, "complete", values, attempt)

    def fail_recovery_point(
        self, rp_id: str, reason: str, at: datetime, *, attempt: int | None = None
    ) -> RecoveryPoint:
        """pending -> failed, with an opaque reason (no data, no key)."""
        return self._transition(rp_id, "failed", {"reason": reason, "failed_at": at}, attempt)

    def restart_recovery_point(self, rp_id: str, at: datetime) -> RecoveryPoint:
        """failed/pending -> pending, counting the attempt: a retry takes over its slot."""
        with self._write() as session:
            row = self._need(session, RecoveryPointRow, rp_id, "recovery point", "check the id")
            attempts = row.attempts + 1
        values = {"attempts": attempts, "failed_at": None, "reason": None, "created_at": at}
        return self._transition(rp_id, "pending", values)

    def mark_recovery_point_deleted(self, rp_id: str, reason: str, at: datetime) -> RecoveryPoint:
        """pending/complete/failed -> deleted, once its object is gone from the store."""
        return self._transition(rp_id, "deleted", {"reason": reason, "deleted_at": at})

    def get_recovery_point(self, rp_id: str) -> RecoveryPoint:
        """One recovery point; ``NotFoundError`` if the id is unknown."""
        with self._read() as session:
            row = self._need(
                session, RecoveryPointRow, rp_id, "recovery point", "list them to find the id"
            )
            return records.recovery_point(row)

    def list_recovery_points(
        self,
        client_id: str | None = None,
        statuses: Iterable[RecoveryPointStatus] | None = None,
    ) -> list[RecoveryPoint]:
        """Recovery points, oldest first, filtered by client and status when given."""
        query = select(RecoveryPointRow).order_by(RecoveryPointRow.created_at, RecoveryPointRow.id)
        if client_id is not None:
            query = query.where(RecoveryPointRow.client_id == client_id)
        if statuses is not None:
            query = query.where(RecoveryPointRow.status.in_(list(statuses)))
        with self._read() as session:
            return [records.recovery_point(r) for r in session.scalars(query)]

    # -- evidence -----------------------------------------------------------------------

    def append_evidence(
        self,
        actor: str,
        action: str,
        subjects: dict[str, str],
        details: dict[str, Any],
        at: datetime,
    ) -> EvidenceEntry:
        """Append one hash-linked entry; serialized against every other append."""
        with self._write() as session:
            head = evidence_log.lock_head(session)
            return evidence_log.append(
                session,
                head,
                actor=actor,
                action=action,
                subjects=subjects,
                details=details,
                at=at,
            )

    def evidence_entries(self) -> Iterator[EvidenceEntry]:
        """Every evidence entry in seq order, read page by page (short transactions)."""
        after: int | None = None
        while True:
            with self._read() as session:
                batch = evidence_log.page(session, after, EVIDENCE_PAGE)
            yield from batch
            if len(batch) < EVIDENCE_PAGE:
                return
            after = batch[-1].seq

    def evidence_head(self) -> EvidenceEntry | None:
        """The entry with the highest seq, or ``None`` for an empty log."""
        with self._read() as session:
            return evidence_log.head_entry(session)

    def evidence_head_mark(self) -> tuple[int, str] | None:
        """(seq, hash) of the ``evidence_head`` row; ``None`` when the row is gone."""
        with self._read() as session:
            return evidence_log.head_mark(session)
