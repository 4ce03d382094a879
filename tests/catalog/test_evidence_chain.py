"""verify_chain (pure): any single change to a chain is detected and located."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.domain.evidence import (
    GENESIS_HASH,
    EvidenceEntry,
    entry_hash,
    verify_chain,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def chain(count: int) -> list[EvidenceEntry]:
    entries: list[EvidenceEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, count + 1):
        at = T0 + timedelta(seconds=seq)
        subjects = {"client": "acme-sas", "recovery_point": f"rp-{seq}"}
        details = {"n": seq, "paths": ["backup.mode"]}
        digest = entry_hash(prev, seq, at, "ops", "test.step", subjects, details)
        entries.append(EvidenceEntry(seq, at, "ops", "test.step", subjects, details, prev, digest))
        prev = digest
    return entries


def test_hash_is_fixed_by_the_documented_rules() -> None:
    """A test vector: anyone re-implementing the canonical JSON gets the same hash."""
    import hashlib

    body = (
        '{"action":"policy.recorded","actor":"ops","at":"2026-03-01T00:00:00.000000Z",'
        '"details":{"changed_fields":["backup.mode"]},"prev_hash":"' + GENESIS_HASH + '",'
        '"seq":1,"subjects":{"client":"acme-sas"}}'
    )
    expected = hashlib.sha256(body.encode()).hexdigest()
    got = entry_hash(
        GENESIS_HASH,
        1,
        T0,
        "ops",
        "policy.recorded",
        {"client": "acme-sas"},
        {"changed_fields": ["backup.mode"]},
    )
    assert got == expected


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_hash(GENESIS_HASH, 1, datetime(2026, 1, 1), "ops", "x", {}, {})


def test_intact_and_empty_chains_verify() -> None:
    assert verify_chain(chain(5)) == dataclasses.replace(
        verify_chain(chain(5)), ok=True, checked=5, first_bad_seq=None
    )
    assert verify_chain([]).ok


def test_deleted_first_entry_is_named() -> None:
    verdict = verify_chain(chain(4)[1:])
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, 1, 0)


def test_rehashed_edit_is_caught_at_the_next_link() -> None:
    """An intruder who recomputes the edited entry's hash still breaks the next link."""
    entries = chain(5)
    old = entries[2]
    forged_hash = entry_hash(
        old.prev_hash, 3, old.at, "mallory", old.action, old.subjects, old.details
    )
    entries[2] = dataclasses.replace(old, actor="mallory", hash=forged_hash)
    verdict = verify_chain(entries)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


FIELDS = ["seq", "at", "actor", "action", "subjects", "details", "prev_hash", "hash"]


def mutated(entry: EvidenceEntry, field: str) -> EvidenceEntry:
    changes: dict[str, Any] = {
        "seq": entry.seq + 7,
        "at": entry.at + timedelta(microseconds=1),
        "actor": entry.actor + "x",
        "action": entry.action + "x",
        "subjects": {**entry.subjects, "client": "other-co"},
        "details": {**entry.details, "n": -1},
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }
    return dataclasses.replace(entry, **{field: changes[field]})


@st.composite
def tampered(draw: st.DrawFn) -> tuple[list[EvidenceEntry], int]:
    """A chain with one mutation, and the first seq the mutation makes wrong."""
    entries = chain(draw(st.integers(min_value=2, max_value=12)))
    kind = draw(st.sampled_from(["edit", "delete", "swap", "duplicate"]))
    # Deleting the newest entry leaves a valid shorter chain: the catalog's head row
    # covers that case (see test_evidence_log), so only inner entries are deleted.
    i = draw(st.integers(min_value=0, max_value=len(entries) - 2))
    if kind == "edit":
        i = draw(st.integers(min_value=0, max_value=len(entries) - 1))
        entries[i] = mutated(entries[i], draw(st.sampled_from(FIELDS)))
    elif kind == "delete":
        del entries[i]
    elif kind == "swap":
        entries[i], entries[i + 1] = entries[i + 1], entries[i]
    else:
        entries.insert(i + 1, entries[i])
    return entries, i + 1 if kind != "duplicate" else i + 2


@given(tampered())
def test_any_single_mutation_is_detected_and_located(case: tuple[list[EvidenceEntry], int]) -> None:
    entries, first_wrong_seq = case
    verdict = verify_chain(entries)
    assert not verdict.ok
    assert verdict.first_bad_seq == first_wrong_seq
    assert verdict.checked == first_wrong_seq - 1
