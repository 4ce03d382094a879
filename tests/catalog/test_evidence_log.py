"""The evidence log: appends link up, tampering is found and located, appends never fork."""

from __future__ import annotations

import itertools
import threading

import pytest
import sqlalchemy as sa

from retention_pipeline.adapters.catalog import SqlCatalog, open_catalog
from retention_pipeline.domain.evidence import GENESIS_HASH, verify_chain
from tests.catalog.conftest import at


def fill(catalog: SqlCatalog, count: int) -> None:
    for n in range(count):
        catalog.append_evidence(
            "scheduler",
            "recovery_point.completed",
            {"client": "acme-sas", "recovery_point": f"rp-{n}"},
            {"size": n * 1000, "ratio": 0.25, "stores": ["backups-eu"], "note": "ok ✓"},
            at(n),
        )


def tamper(raw: sa.Engine, *statements: str) -> None:
    with raw.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def test_appends_link_from_genesis_and_verify(catalog: SqlCatalog) -> None:
    assert catalog.evidence_head() is None
    assert verify_chain(catalog.evidence_entries()).ok

    fill(catalog, 6)
    entries = list(catalog.evidence_entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert catalog.evidence_head() == entries[-1]
    assert entries[2].details == {
        "size": 2000,
        "ratio": 0.25,
        "stores": ["backups-eu"],
        "note": "ok ✓",
    }
    assert entries[2].at == at(2)
    assert verify_chain(entries).ok and verify_chain(entries).checked == 6


def test_reading_pages_returns_every_entry_in_order(
    catalog: SqlCatalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("retention_pipeline.adapters.catalog.sql_catalog.EVIDENCE_PAGE", 4)
    fill(catalog, 9)
    assert [e.seq for e in catalog.evidence_entries()] == list(range(1, 10))


@pytest.mark.parametrize("column", ["actor", "action"])
def test_edited_entry_is_named(catalog: SqlCatalog, raw: sa.Engine, column: str) -> None:
    fill(catalog, 8)
    tamper(raw, f"UPDATE evidence_log SET {column} = 'mallory' WHERE seq = 3")

    verdict = verify_chain(catalog.evidence_entries())
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, 3, 2)
    assert "edited" in verdict.reason


def test_deleted_entry_is_named(catalog: SqlCatalog, raw: sa.Engine) -> None:
    fill(catalog, 8)
    tamper(raw, "DELETE FROM evidence_log WHERE seq = 5")

    verdict = verify_chain(catalog.evidence_entries())
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, 5, 4)
    assert "missing" in verdict.reason


def test_swapped_entries_are_named(catalog: SqlCatalog, raw: sa.Engine) -> None:
    fill(catalog, 8)
    tamper(
        raw,
        "UPDATE evidence_log SET seq = -1 WHERE seq = 4",
        "UPDATE evidence_log SET seq = 4 WHERE seq = 5",
        "UPDATE evidence_log SET seq = 5 WHERE seq = -1",
    )

    verdict = verify_chain(catalog.evidence_entries())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 4)


def test_cut_tail_shows_at_the_next_append(catalog: SqlCatalog, raw: sa.Engine) -> None:
    fill(catalog, 5)
    tamper(raw, "DELETE FROM evidence_log WHERE seq = 5")
    catalog.append_evidence("ops", "test.ping", {}, {}, at(9))

    verdict = verify_chain(catalog.evidence_entries())
    assert (verdict.ok, verdict.first_bad_seq) == (False, 5)


def test_concurrent_appends_never_fork_the_chain(catalog_url: str) -> None:
    """Two writers (own engines, as two workers would have) append 50 entries each."""
    open_catalog(catalog_url).close()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            with open_catalog(catalog_url) as mine:
                start.wait()
                for n in range(50):
                    mine.append_evidence(name, "test.append", {"n": str(n)}, {}, at(n))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("w1", "w2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with open_catalog(catalog_url) as check:
        entries = list(check.evidence_entries())
    assert [e.seq for e in entries] == list(range(1, 101))
    assert sorted(e.actor for e in entries) == ["w1"] * 50 + ["w2"] * 50
    assert verify_chain(entries).ok
