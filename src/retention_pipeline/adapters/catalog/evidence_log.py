"""Appending to the evidence log inside a caller's transaction, one writer at a time.

The lock is the single ``evidence_head`` row: ``SELECT ... FOR UPDATE`` on PostgreSQL,
and on SQLite the write lock every catalog write transaction takes at ``BEGIN
IMMEDIATE`` (``FOR UPDATE`` renders as nothing there). Whoever holds it reads the head
(seq, hash), writes entry seq + 1 linked to that hash and moves the head, all before
committing, so two appends can never both link to the same predecessor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retention_pipeline.adapters.catalog.models import EvidenceHeadRow, EvidenceRow
from retention_pipeline.adapters.catalog.records import evidence_entry, plain
from retention_pipeline.domain.evidence import EvidenceEntry, entry_hash
from retention_pipeline.errors import RetentionError


class EvidenceLogDamagedError(RetentionError):
    """The evidence log's head row is gone: someone altered the catalog by hand."""


def lock_head(session: Session) -> EvidenceHeadRow:
    """Take the append lock and return the head row (held until the transaction ends)."""
    head = session.scalars(
        select(EvidenceHeadRow).where(EvidenceHeadRow.id == 1).with_for_update()
    ).one_or_none()
    if head is None:
        raise EvidenceLogDamagedError(
            "catalog table evidence_head has no row: the evidence log was altered outside "
            "the pipeline; restore the catalog from a backup and verify the chain"
        )
    return head


def append(
    session: Session,
    head: EvidenceHeadRow,
    *,
    actor: str,
    action: str,
    subjects: dict[str, str],
    details: dict[str, Any],
    at: datetime,
) -> EvidenceEntry:
    """Write the entry after ``head`` (locked by ``lock_head``) and move the head."""
    stored_subjects = plain(subjects)
    stored_details = plain(details)
    seq = head.seq + 1
    digest = entry_hash(head.hash, seq, at, actor, action, stored_subjects, stored_details)
    row = EvidenceRow(
        seq=seq,
        at=at,  # entry_hash above refused a naive time
        actor=actor,
        action=action,
        subjects=stored_subjects,
        details=stored_details,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(row)
    head.seq = seq
    head.hash = digest
    session.flush()
    return evidence_entry(row)


def head_entry(session: Session) -> EvidenceEntry | None:
    """The stored entry with the highest seq (what an auditor sees as the newest)."""
    row = session.scalars(select(EvidenceRow).order_by(EvidenceRow.seq.desc()).limit(1)).first()
    return evidence_entry(row) if row is not None else None


def page(session: Session, after_seq: int | None, size: int) -> list[EvidenceEntry]:
    """Up to ``size`` entries with seq greater than ``after_seq`` (all: None), in order."""
    query = select(EvidenceRow).order_by(EvidenceRow.seq).limit(size)
    if after_seq is not None:
        query = query.where(EvidenceRow.seq > after_seq)
    rows = session.scalars(query)
    return [evidence_entry(r) for r in rows]
