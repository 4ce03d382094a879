"""The evidence log's hash chain: how an entry is hashed and how a chain is verified.

Rules this module enforces (pure: no I/O, no clock; every time is passed in):

* Entries are numbered ``seq = 1, 2, 3, ...`` with no gap. Entry 1 links to
  ``GENESIS_HASH``; entry ``n`` links to the hash of entry ``n - 1``.
* An entry's hash is the SHA-256 of the canonical JSON of *all* its fields, its
  ``prev_hash`` and ``seq`` included, so editing any field, renumbering an entry,
  deleting one or swapping two breaks the chain at a place ``verify_chain`` names.
* Canonical JSON is ``json.dumps(sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)`` encoded as UTF-8; times are UTC ISO-8601 with microseconds and
  a ``Z``. Anyone can recompute a hash from the exported rows with these rules.

What the chain alone cannot show: that its newest entries were cut off. The catalog
keeps the head (seq, hash) apart from the rows (``check_head`` compares the two), and
signed checkpoints kept outside the catalog cover a cut that rewrote the head too
(``services.evidence_witness``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON spelling hashed everywhere (policy digests, evidence entries)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_text(at: datetime) -> str:
    """``at`` as hashed: UTC, microseconds, ``Z``; a naive time is refused (no guessing)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("evidence times must be timezone-aware (UTC)")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subjects: Mapping[str, str],
    details: Mapping[str, Any],
) -> str:
    """SHA-256 (hex) over the canonical JSON of every field of an entry."""
    body = {
        "prev_hash": prev_hash,
        "seq": seq,
        "at": utc_text(at),
        "actor": actor,
        "action": action,
        "subjects": dict(subjects),
        "details": dict(details),
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EvidenceEntry:
    """One row of the evidence log, as the catalog returns it.

    ``subjects`` name what the action was about by opaque ids (client, recovery point,
    object key); ``details`` never hold key material, client rows, names or e-mails.
    ``damage`` says why a stored row could not be read as written (its JSON was edited
    into something that does not parse); such an entry breaks the chain where it stands.
    """

    seq: int
    at: datetime
    actor: str
    action: str
    subjects: dict[str, str]
    details: dict[str, Any]
    prev_hash: str
    hash: str
    damage: str | None = None


class ChainLink(Protocol):
    """What ``verify_chain`` reads from an entry; ``EvidenceEntry`` is one."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def subjects(self) -> Mapping[str, str]: ...
    @property
    def details(self) -> Mapping[str, Any]: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def damage(self) -> str | None: ...


@dataclass(frozen=True)
class ChainVerdict:
    """The result of ``verify_chain``.

    ``checked`` counts the entries found sound before the first bad one;
    ``first_bad_seq`` is the first sequence number where the log is not what it should
    be (an edited entry, or the first missing number when entries were deleted).
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str


def _recomputed(entry: ChainLink) -> str | None:
    """The hash the entry should carry, or ``None`` when its fields cannot be hashed.

    Rows come from JSON columns anyone with database access may edit: a time that is no
    time, or details nested too deep to serialize, is an edited entry, not a crash.
    """
    at: object = entry.at  # typed a datetime, read from a column that may hold anything
    if not isinstance(at, datetime):
        return None
    try:
        return entry_hash(
            entry.prev_hash,
            entry.seq,
            entry.at,
            entry.actor,
            entry.action,
            entry.subjects,
            entry.details,
        )
    except (TypeError, ValueError, RecursionError):
        return None


def verify_chain(entries: Iterable[ChainLink]) -> ChainVerdict:
    """Walk the entries in the order given and name the first one that breaks the chain.

    Order of checks per entry: its own hash (catches an edited field or a renumbered
    entry), then its number (catches deleted entries), then its link to the previous
    hash (catches a removed or swapped entry whose number was rewritten to hide it).
    """
    expected_seq = 1
    expected_prev = GENESIS_HASH
    checked = 0
    for entry in entries:
        if entry.damage is not None:
            return ChainVerdict(
                False, checked, entry.seq, f"entry {entry.seq}: {entry.damage} (edited entry)"
            )
        if _recomputed(entry) != entry.hash:
            where = "" if entry.seq == expected_seq else f", where entry {expected_seq} belongs"
            return ChainVerdict(
                False,
                checked,
                expected_seq,
                f"entry {entry.seq}{where}: stored hash does not match its content (edited entry)",
            )
        if entry.seq != expected_seq:
            missing = (
                f"entries {expected_seq}..{entry.seq - 1} missing (deleted entries)"
                if entry.seq > expected_seq
                else f"entry {entry.seq} found after entry {expected_seq - 1} (reordered)"
            )
            return ChainVerdict(False, checked, expected_seq, missing)
        if entry.prev_hash != expected_prev:
            return ChainVerdict(
                False,
                checked,
                entry.seq,
                f"entry {entry.seq}: does not link to entry {entry.seq - 1} "
                "(an entry before it was removed, replaced or swapped)",
            )
        expected_seq = entry.seq + 1
        expected_prev = entry.hash
        checked += 1
    return ChainVerdict(True, checked, None, f"{checked} entries verified")


Head = tuple[int, str]


def check_head(
    verdict: ChainVerdict, hashes: Sequence[str], before: Head | None, after: Head | None
) -> ChainVerdict:
    """The chain's verdict, also failed when the catalog's head row disagrees with its rows.

    ``hashes`` are the entries' hashes as read (all sound when ``verdict.ok``); ``before``
    and ``after`` the (seq, hash) of the ``evidence_head`` row read before and after the
    entries (``None``: the row is gone). Appends move the head with their row in one
    transaction and only forward, so without tampering the head read before is an entry
    that was read, and the head read after is not behind the newest one read; appends
    running meanwhile change neither. A head ahead of the rows means entries were
    deleted; any other difference means the head row was edited. The entries read are
    still sound, so ``checked`` is kept.
    """
    if not verdict.ok:
        return verdict
    held = len(hashes)
    if before is None or after is None:
        reason = "the evidence_head row is missing (the catalog was altered by hand)"
    elif before[0] > held:
        reason = (
            f"the evidence_head row names entry {before[0]} but the log ends at entry {held} "
            f"(entries {held + 1}..{before[0]} deleted)"
        )
    elif after[0] < held or any(
        mark[0] <= held and mark[1] != (hashes[mark[0] - 1] if mark[0] else GENESIS_HASH)
        for mark in (before, after)
    ):
        reason = (
            f"the evidence_head row names entry {after[0]} with a hash that is not that "
            f"entry's (evidence_head edited; the log holds {held} entries)"
        )
    else:
        return verdict
    return ChainVerdict(False, verdict.checked, held + 1, reason)
