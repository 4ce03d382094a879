"""The erasure gates come before any store is contacted.

An erasure without a valid second-person approval (or under legal hold) is refused on
what the catalog and the order form say alone: not one request reaches a store, so a
refused erasure cannot fail on, wait for, or leave traces in a store, and an operator
sees the approval message, not a network error.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml

from tests.erasure.conftest import CLIENT, ErasureHome


@contextmanager
def counting_endpoint() -> Iterator[tuple[str, list[int]]]:
    """An S3 endpoint URL on 127.0.0.1 that answers nothing and counts connections."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    connections = [0]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections[0] += 1
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def point_stores_at(home: ErasureHome, endpoint: str) -> None:
    """Rewrite ``retention.yaml`` so that every S3 store is reached at ``endpoint``."""
    path = home.path / "retention.yaml"
    settings: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for spec in settings["stores"].values():
        if spec["url"].startswith("s3://"):
            spec["endpoint_url"] = endpoint
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")


def test_an_erasure_without_approval_contacts_no_store(home: ErasureHome) -> None:
    with counting_endpoint() as (endpoint, connections):
        point_stores_at(home, endpoint)
        missing = home.cli(
            "erase", CLIENT, "--trigger", "client_request", "--requested-by", "staff-0012"
        )
        assert missing.rc == 3, missing.err
        assert "the order form requires approval" in missing.err
        assert "--approved-by" in missing.err
        same = home.erase(approver="staff-0012")
        assert same.rc == 3, same.err
        assert "approver must differ" in same.err
        assert connections[0] == 0
    catalog = home.installation().catalog
    assert [r.status for r in catalog.list_erasure_requests(CLIENT)] == ["refused"] * 2
    reasons = [
        e.details["reason"] for e in catalog.evidence_entries() if e.action == "erasure.refused"
    ]
    assert reasons == ["approval_missing", "approval_same_person"]
    assert catalog.get_client_key(CLIENT).state == "active"  # type: ignore[union-attr]


def test_an_erasure_under_legal_hold_contacts_no_store(home: ErasureHome) -> None:
    home.policy(legal_hold={"active": True, "reason": "Litige en cours"})
    with counting_endpoint() as (endpoint, connections):
        point_stores_at(home, endpoint)
        run = home.erase()
        assert run.rc == 3, run.err
        assert "under legal hold" in run.err
        assert connections[0] == 0


def test_the_counting_endpoint_sees_an_approved_erasure_try(home: ErasureHome) -> None:
    """The counter works: an approved erasure does reach the (silent) store and fails."""
    with counting_endpoint() as (endpoint, connections):
        point_stores_at(home, endpoint)
        run = home.erase()
        assert run.rc != 0
        assert connections[0] > 0
        assert "Traceback" not in run.err
