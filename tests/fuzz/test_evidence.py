"""Evidence rows: ``verify_chain`` names the first bad entry of any rows, and never raises.

Rows come from the catalog's JSON columns, which anyone with database access can edit:
the verdict must hold whatever they put there (lists, deep nesting, naive times).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from retention_pipeline.domain.evidence import (
    GENESIS_HASH,
    EvidenceEntry,
    entry_hash,
    verify_chain,
)
from tests.fuzz.support import FUZZ, json_values

START = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def chain(size: int = 5) -> list[EvidenceEntry]:
    entries: list[EvidenceEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, size + 1):
        at = START + timedelta(minutes=seq)
        subjects = {"client": f"client-{seq}"}
        details = {"n": seq, "ids": [seq, "rp-x"]}
        digest = entry_hash(prev, seq, at, "tester", "backup.completed", subjects, details)
        entries.append(
            EvidenceEntry(seq, at, "tester", "backup.completed", subjects, details, prev, digest)
        )
        prev = digest
    return entries


VALID = chain()
FIELDS = [f.name for f in dataclasses.fields(EvidenceEntry)]


class Nested(dict[str, Any]):
    """A JSON value nested ``depth`` lists deep (a JSON column may hold one); short repr."""

    def __init__(self, depth: int) -> None:
        value: list[Any] = []
        for _ in range(depth):
            value = [value]
        super().__init__(a=value)
        self.depth = depth

    def __repr__(self) -> str:
        return f"Nested({self.depth})"


deep = st.integers(50, 3000).map(Nested)


def test_the_valid_chain_verifies() -> None:
    assert verify_chain(VALID).ok


@FUZZ
@given(
    st.integers(0, len(VALID) - 1),
    st.sampled_from(FIELDS),
    st.one_of(json_values, deep, st.datetimes(), st.datetimes(timezones=st.just(UTC))),
)
def test_an_edited_row_never_verifies(index: int, field: str, value: Any) -> None:
    original = getattr(VALID[index], field)
    edited = list(VALID)
    edited[index] = dataclasses.replace(VALID[index], **{field: value})
    verdict = verify_chain(edited)
    if not isinstance(value, Nested) and value == original and type(value) is type(original):
        return  # not an edit
    assert not verdict.ok
    assert verdict.first_bad_seq is not None and verdict.first_bad_seq <= index + 1


@FUZZ
@given(st.permutations(VALID), st.integers(0, len(VALID)))
def test_dropped_or_reordered_rows_never_verify(order: list[EvidenceEntry], keep: int) -> None:
    rows = order[:keep]
    verdict = verify_chain(rows)
    assert verdict.ok == (rows == VALID[:keep])
