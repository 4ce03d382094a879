"""Erasure decisions, pure: scope entries, the gates, the status, and the certificate's predicate.

Vocabulary: an erasure *entry* is one object version or delete marker found under a
client's prefix in one store, with its content SHA-256 (a delete marker has no content:
the SHA-256 of the empty string) and, when the store locks it, the end of its lock.
A *residual* entry is one whose lock ends after ``now``: it cannot be deleted yet, so it
is crypto-erased (the client key is destroyed) and deleted by a later sweep.

Rules this module enforces (no I/O, ``now`` is a parameter):

* a client under legal hold is refused before anything is deleted, and so is an
  erasure whose approval the order form requires but which lacks a second person;
* staff ids are ids, never e-mail addresses or names (no ``@``, no space), because they
  go into a certificate a client keeps forever;
* the certificate covers every entry found across every attempt of a request: what an
  interrupted attempt deleted is in the digest of the attempt that finishes it;
* status: ``completed_with_exceptions`` while a residual remains, else ``completed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retention_pipeline.domain.ids import STAFF_ID
from retention_pipeline.envelope.certificate import (
    DestructionPredicate,
    KeyDestructionInfo,
    LocationResult,
    ResidualCopy,
    Verification,
    entry_digest,
    location_digest,
)
from retention_pipeline.envelope.certificate_predicate import Status, format_time, parse_time
from retention_pipeline.errors import RefusedError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# Staff ids and order form numbers go into the certificate: the certificate schema's own
# pattern decides what they may look like, so a gate here never lets through an id that
# signing would then refuse.
_REFERENCE = STAFF_ID
STORE_CHECK = "list-versions+get"
NO_KEY_FINGERPRINT = EMPTY_SHA256


@dataclass(frozen=True)
class Entry:
    """One version or delete marker under the client's prefix in one store."""

    store: str
    key: str
    version_id: str
    sha256: str
    size: int
    delete_marker: bool
    known: bool
    locked_until: datetime | None = None

    @property
    def ident(self) -> tuple[str, str, str]:
        """(store, key, version): what makes an entry unique."""
        return (self.store, self.key, self.version_id)

    def residual_at(self, now: datetime) -> bool:
        """Whether its lock still forbids deleting it at ``now``."""
        return self.locked_until is not None and self.locked_until > now

    def to_row(self) -> list[Any]:
        """The compact JSON row kept in the erasure request's details."""
        until = format_time(self.locked_until) if self.locked_until else None
        return [self.key, self.version_id, self.sha256, self.size,
                int(self.delete_marker), int(self.known), until]  # fmt: skip

    @classmethod
    def from_row(cls, store: str, row: Sequence[Any]) -> Entry:
        """Inverse of ``to_row``."""
        key, version, sha, size, marker, known, until = row
        locked = parse_time(until, "locked_until") if until else None
        return cls(store, key, version, sha, int(size), bool(marker), bool(known), locked)


class ErasureRefusedError(RefusedError):
    """A gate refused the erasure; nothing was deleted.

    ``code`` (``legal_hold``, ``approval_missing``...) goes to the evidence log; the
    message, for people, names the field to change and never quotes personal data.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_staff_id(value: str | None, what: str) -> None:
    """Refuse a staff id that is not an opaque id (an e-mail address, a full name)."""
    if value is not None and not STAFF_ID.fullmatch(value):
        raise ErasureRefusedError(
            "bad_staff_id",
            f"{what} must be a staff id (letters, digits, '._:+/-'; no '@' or spaces), "
            "not an e-mail address or a name",
        )


def approval_gate(approval: str, requested_by: str, approved_by: str | None) -> None:
    """With ``approval: required`` a second person, other than the requester, approves."""
    check_staff_id(requested_by, "--requested-by")
    check_staff_id(approved_by, "--approved-by")
    if approval != "required":
        return
    if not approved_by:
        raise ErasureRefusedError(
            "approval_missing",
            "the order form requires approval (erasure.approval: required); "
            "pass --approved-by with a second person's staff id",
        )
    if approved_by == requested_by:
        raise ErasureRefusedError(
            "approval_same_person",
            "the approver must differ from the requester (erasure.approval: required); "
            "ask a second person to approve",
        )


def residuals(entries: Iterable[Entry], now: datetime) -> list[Entry]:
    """Entries still locked at ``now`` (crypto-erased, deleted later)."""
    return [entry for entry in entries if entry.residual_at(now)]


def status_for(residual: Sequence[Entry]) -> Status:
    """``completed_with_exceptions`` while a copy remains, else ``completed``."""
    return "completed_with_exceptions" if residual else "completed"


def contract_reference(reference: str | None) -> str | None:
    """The order form number as a certificate may carry it; anything else is left out."""
    if reference and _REFERENCE.fullmatch(reference):
        return reference
    return None


def due(ends_on: datetime | None, after: timedelta, now: datetime) -> bool:
    """Whether a contract that ended at ``ends_on`` is due for erasure at ``now``."""
    return ends_on is not None and ends_on + after <= now


@dataclass(frozen=True)
class Certified:
    """The facts of an erasure a certificate states, besides its entries."""

    certificate_id: str
    issued_at: datetime
    issuer: str
    client_id: str
    contract_reference: str | None
    trigger: str
    legal_basis: str | None
    requester_id: str
    approver_id: str | None
    key_destruction: KeyDestructionInfo
    tool_version: str
    airflow_run_id: str | None
    evidence_head: str
    supersedes: str | None = None


def location_results(
    entries: Iterable[Entry], locations: Mapping[str, str], residual: Sequence[Entry]
) -> tuple[LocationResult, ...]:
    """One result per store of ``locations`` (store -> region), in store-name order."""
    by_store: dict[str, list[Entry]] = {store: [] for store in locations}
    for entry in entries:
        by_store.setdefault(entry.store, []).append(entry)
    locked = {entry.store for entry in residual}
    results = []
    for store in sorted(by_store):
        found = by_store[store]
        results.append(
            LocationResult(
                store=store,
                location=locations.get(store) or "unspecified",
                method="crypto-erase" if store in locked else "delete",
                objects=len({entry.key for entry in found}),
                versions=len(found),
                bytes=sum(entry.size for entry in found),
                digest=location_digest((e.key, e.version_id, e.sha256) for e in found),
                verification=Verification(method=STORE_CHECK, result="passed"),
            )
        )
    return tuple(results)


def build_predicate(
    facts: Certified,
    entries: Sequence[Entry],
    locations: Mapping[str, str],
    residual: Sequence[Entry],
) -> DestructionPredicate:
    """The predicate of a certificate over ``entries`` with ``residual`` still locked."""
    copies = tuple(
        ResidualCopy(
            store=entry.store,
            location=locations.get(entry.store) or "unspecified",
            key_digest=entry_digest(entry.key, entry.version_id, entry.sha256),
            locked_until=entry.locked_until,
        )
        for entry in sorted(residual, key=lambda e: e.ident)
        if entry.locked_until is not None
    )
    return DestructionPredicate(
        certificate_id=facts.certificate_id,
        issued_at=facts.issued_at,
        issuer=facts.issuer,
        status=status_for(residual),
        client_id=facts.client_id,
        contract_reference=facts.contract_reference,
        trigger=facts.trigger,
        legal_basis=facts.legal_basis,
        requester_id=facts.requester_id,
        approver_id=facts.approver_id,
        locations=location_results(entries, locations, residual),
        key_destruction=facts.key_destruction,
        residual_copies=copies,
        tool_version=facts.tool_version,
        airflow_run_id=facts.airflow_run_id,
        evidence_head=facts.evidence_head,
        supersedes=facts.supersedes,
    )
