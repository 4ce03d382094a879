"""One operation at a time per client, through the services (issue 16, item 4).

Before, two concurrent erasures of one client issued two ``completed`` certificates for
one request, and two concurrent backups both ran.
"""

from __future__ import annotations

import threading

import pytest

from retention_pipeline.errors import RefusedError
from retention_pipeline.services import backup, erasure
from tests.erasure.conftest import CLIENT, ErasureHome


def test_two_erasures_at_once_issue_one_certificate(
    home: ErasureHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure, "CLIENT_LOCK_WAIT", 60.0)  # the second waits its turn
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def erase() -> None:
        service = home.installation().erasure_service()
        start.wait()
        try:
            outcomes.append(
                service.erase(
                    CLIENT,
                    trigger="client_request",
                    requested_by="staff-0012",
                    approved_by="staff-0003",
                )
            )
        except Exception as error:
            outcomes.append(error)

    threads = [threading.Thread(target=erase) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    catalog = home.installation().catalog
    assert len(catalog.list_certificates(CLIENT)) == 1
    assert len(catalog.list_erasure_requests(CLIENT)) == 1
    refused = [o for o in outcomes if isinstance(o, RefusedError)]
    assert len(outcomes) == 2 and len(refused) == 1, outcomes
    assert "was already erased on" in str(refused[0])


def test_an_erasure_while_a_backup_runs_is_refused_naming_it_and_records_nothing(
    home: ErasureHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure, "CLIENT_LOCK_WAIT", 0.3)
    catalog = home.installation().catalog
    requests = len(catalog.list_erasure_requests(CLIENT))

    with catalog.client_lock(CLIENT, "backup"):
        run = home.erase()

    assert run.rc == 3
    assert "backup is running" in run.err and "erasure waited 0.3 s and did nothing" in run.err
    assert len(catalog.list_erasure_requests(CLIENT)) == requests
    assert home.erase().rc == 0  # once the backup ended


def test_a_second_backup_waits_then_is_refused(
    home: ErasureHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backup, "CLIENT_LOCK_WAIT", 0.3)
    catalog = home.installation().catalog
    points = len(catalog.list_recovery_points(CLIENT))

    with catalog.client_lock(CLIENT, "backup"):
        run = home.cli("backup", CLIENT)

    assert run.rc == 3 and "backup is running" in run.err
    assert len(catalog.list_recovery_points(CLIENT)) == points
