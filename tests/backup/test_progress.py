"""Progress of backup, verify and restore: every phase counted to its total, on a terminal
only, and never a value of the client's data on the line.
"""

from __future__ import annotations

import gc
import io
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.backup.conftest import BackupHome, make_documents
from tests.support.crm import table_rows

Databases = Callable[..., AbstractContextManager[str]]
Event = tuple[str, int, int | None]


class Terminal(io.StringIO):
    """stderr as an operator's terminal."""

    def isatty(self) -> bool:
        return True


def phases(events: list[Event]) -> list[str]:
    """Each phase once, in the order the phases started."""
    return list(dict.fromkeys(phase for phase, _, _ in events))


def check_counts(events: list[Event]) -> dict[str, tuple[int, int | None]]:
    """Counts never go back within a phase; returns each phase's last (done, total)."""
    last: dict[str, tuple[int, int | None]] = {}
    for phase, done, total in events:
        if phase in last:
            assert done >= last[phase][0], (phase, done, last[phase])
            assert total == last[phase][1], phase
        last[phase] = (done, total)
    return last


def test_each_phase_is_counted_to_its_total(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = make_documents(tmp_path / "documents")
    doc_bytes = sum(p.stat().st_size for p in docs.rglob("*") if p.is_file())
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas", documents=docs)
        installation = home.installation()

        events: list[Event] = []
        done = installation.backup_service().backup(
            "acme-sas", progress=lambda *e: events.append(e)
        )
        assert phases(events) == ["read", "upload"]
        last = check_counts(events)
        read_bytes, read_total = last["read"]
        assert read_total is None  # a dump's size is only known at its end
        assert read_bytes > doc_bytes  # documents and table data
        upload_bytes, upload_total = last["upload"]
        assert upload_bytes == upload_total
        assert done.size > upload_total  # age adds its header and tags to the plaintext

        events.clear()
        report = installation.restore_service().verify(
            done.recovery_point_id, progress=lambda *e: events.append(e)
        )
        assert report.ok
        assert phases(events) == ["download", "check"]
        last = check_counts(events)
        assert last["download"] == (done.size, done.size)
        assert last["check"][0] == last["check"][1] == read_bytes

        events.clear()
        restored = tmp_path / "restored"
        report = installation.restore_service().restore(
            done.recovery_point_id,
            target,
            documents_to=restored,
            progress=lambda *e: events.append(e),
        )
        assert report.ok
        assert phases(events) == ["download", "load", "verify", "documents"]
        last = check_counts(events)
        assert last["download"] == (done.size, done.size)
        assert last["load"][0] == last["load"][1] == read_bytes - doc_bytes
        assert last["verify"] == last["load"]  # the re-dump reads back what was loaded
        assert last["documents"] == (doc_bytes, doc_bytes)


def test_the_terminal_shows_phases_and_logs_stay_quiet(
    home: BackupHome, databases: Databases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        quiet = home.cli("backup", "acme-sas")  # stderr is not a terminal under pytest
        assert quiet.rc == 0
        assert quiet.err == ""

        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert home.cli("backup", "acme-sas").rc == 0
        rp = home.complete("acme-sas")[-1].id
        assert home.cli("verify", rp).rc == 0
        run = home.cli("restore", rp, "--to", target)
        assert run.rc == 0
        assert "verification: OK" in run.out  # the report still goes to stdout

    screen = terminal.getvalue()
    lines = [line.strip() for line in screen.replace("\r", "\n").splitlines() if line.strip()]
    for label, phase in [
        ("backup acme-sas", "upload"),
        (f"verify {rp}", "download"),
        (f"verify {rp}", "check"),
        (f"restore {rp}", "download"),
        (f"restore {rp}", "load"),
        (f"restore {rp}", "verify"),
    ]:
        drawn = [line for line in lines if line.startswith(f"{label} {phase}:")]
        assert drawn, (label, phase, lines)
        assert "100%" in drawn[-1]  # a phase's last report is always drawn
    assert screen.count("\n") == 3  # each command ended its line before returning

    values = {str(v) for row in table_rows(source, "contacts") for v in row if v is not None}
    shown = set(screen.replace("\r", " ").split())
    assert not {v for v in values if len(v) > 6} & shown


def test_commands_hand_the_heap_back_to_the_collector(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """backup, verify and restore freeze the set-up's objects for their long run (a speed
    measure, benchmarks/README.md) and unfreeze them when they end, failed or not: a
    process running several commands must still free the cyclic garbage among them."""
    frozen_during: list[int] = []
    real_freeze = gc.freeze

    def freeze() -> None:
        real_freeze()
        frozen_during.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", freeze)
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv("BT_CRM_A_URL", source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas").id
        assert gc.get_freeze_count() == 0
        assert home.cli("verify", rp).rc == 0
        assert gc.get_freeze_count() == 0
        assert home.cli("restore", rp, "--to", target).rc == 0
        assert gc.get_freeze_count() == 0
        refused = home.cli("restore", rp, "--to", target)  # not empty any more
        assert refused.rc != 0
        assert gc.get_freeze_count() == 0
    assert len(frozen_during) == 4
    assert all(count > 1000 for count in frozen_during)  # the set-up's objects, frozen
