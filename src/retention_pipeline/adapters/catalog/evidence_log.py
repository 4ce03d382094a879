"""Appending to the evidence log inside a caller's transaction, one writer at a time.

The lock is the single ``evidence_head`` row: ``SELECT ... FOR UPDATE`` on PostgreSQL,
and on SQLite the write lock every catalog write transaction takes at ``BEGIN
IMMEDIATE`` (``FOR UPDATE`` renders as nothing there). Whoever holds it reads the head
(seq, hash), writes entry seq + 1 linked to that hash and moves the head, all before
committing, so two appends can never both link to the same predecessor.

Reads take ``subjects`` and ``details`` as the text the database holds and parse it here,
so a row whose JSON was edited into something unparsable is one damaged entry that the
chain check names by its seq, not an exception that stops the whole read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from retention_pipeline.adapters.catalog.models import EvidenceHeadRow, EvidenceRow
from retention_pipeline.adapters.catalog.records import evidence_entry, plain, utc
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


_COLUMNS = (
    EvidenceRow.seq,
    EvidenceRow.at,
    EvidenceRow.actor,
    EvidenceRow.action,
    cast(EvidenceRow.subjects, Text),
    cast(EvidenceRow.details, Text),
    EvidenceRow.prev_hash,
    EvidenceRow.hash,
)


def head_entry(session: Session) -> EvidenceEntry | None:
    """The stored entry with the highest seq (what an auditor sees as the newest)."""
    row = session.execute(select(*_COLUMNS).order_by(EvidenceRow.seq.desc()).limit(1)).first()
    return _entry(row) if row is not None else None


def head_mark(session: Session) -> tuple[int, str] | None:
    """(seq, hash) of the ``evidence_head`` row, ``None`` when the row is gone."""
    head = session.get(EvidenceHeadRow, 1)
    return (head.seq, head.hash) if head is not None else None


def page(session: Session, after_seq: int | None, size: int) -> list[EvidenceEntry]:
    """Up to ``size`` entries with seq greater than ``after_seq`` (all: None), in order."""
    query = select(*_COLUMNS).order_by(EvidenceRow.seq).limit(size)
    if after_seq is not None:
        query = query.where(EvidenceRow.seq > after_seq)
    return [_entry(row) for row in session.execute(query)]


def _entry(row: Any) -> EvidenceEntry:
    seq, at, actor, action, subjects_text, details_text, prev_hash, digest = row
    subjects, subjects_damage = _object(subjects_text, "subjects")
    details, details_damage = _object(details_text, "details")
    return EvidenceEntry(
        seq=seq,
        at=utc(at),
        actor=actor,
        action=action,
        subjects=subjects,
        details=details,
        prev_hash=prev_hash,
        hash=digest,
        damage=subjects_damage or details_damage,
    )


def _object(text: str | None, column: str) -> tuple[dict[str, Any], str | None]:
    """The column's JSON object, or ``{}`` and what is wrong with the stored text."""
    try:
        value = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        return {}, f"its {column} column is not valid JSON"
    if not isinstance(value, dict):
        return {}, f"its {column} column does not hold a JSON object"
    return value, None
