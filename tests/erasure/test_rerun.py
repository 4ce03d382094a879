"""An erasure interrupted half-way is run again and converges; the certificate covers all.

The interruption is a real store that stops answering after it deleted part of a batch
(test code wrapping the S3 adapter, not a mock of boto3): the first run fails with no
certificate and says so; the second run resumes the same request, deletes the rest, and
the certificate's digests cover what both attempts deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest

from retention_pipeline.ports.store import ObjectStore, TransientStoreError
from retention_pipeline.services.erasure import ErasureService
from tests.erasure.conftest import CLIENT, ErasureHome


class DroppedConnectionStore:
    """A real store whose ``delete_versions`` deletes the first two pairs, then fails."""

    def __init__(self, real: ObjectStore) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def delete_versions(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        pairs = list(items)
        self.real.delete_versions(pairs[:2])
        raise TransientStoreError(f"store {self.real.name!r}: connection dropped (test)")


def interrupted(home: ErasureHome) -> ErasureService:
    installation = home.installation()
    service = installation.erasure_service()
    flaky = DroppedConnectionStore(installation.store("s3"))
    service.reach.store = lambda name: flaky if name == "s3" else installation.store(name)
    return service


def test_an_interrupted_erasure_converges_on_rerun(home: ErasureHome) -> None:
    s3_before = home.listed("s3")
    with pytest.raises(TransientStoreError):
        interrupted(home).erase(
            CLIENT, trigger="end_of_contract", requested_by="staff-0012", approved_by="staff-0003"
        )
    catalog = home.installation().catalog
    [request] = catalog.list_erasure_requests(CLIENT)
    assert request.status == "failed" and "connection dropped" in request.details["failure"]
    assert catalog.list_certificates(CLIENT) == []
    left = home.listed("s3")
    assert 0 < len(left) < len(s3_before)  # part of the batch went
    assert home.listed("folder") == []  # the store before it was done

    run = home.erase()
    assert run.rc == 0, run.err
    for store in ("folder", "s3", "vault"):
        assert home.listed(store) == []
    [again] = catalog.list_erasure_requests(CLIENT)
    assert again.id == request.id and again.status == "completed"
    assert len(again.details["attempts"]) == 2
    [certificate] = catalog.list_certificates(CLIENT)
    assert certificate.erasure_request_id == request.id
    listed = json.loads(home.cli("certificate", "list", "--json").out)
    assert [c["status"] for c in listed] == ["completed"]
    entries = again.details["entries"]["s3"]
    assert {(row[0], row[1]) for row in entries} == set(s3_before)  # both attempts covered


def test_a_failed_verification_issues_no_certificate_and_says_what_remains(
    home: ErasureHome,
) -> None:
    installation = home.installation()
    service = installation.erasure_service()
    real = installation.store("folder")

    class Forgetful(DroppedConnectionStore):
        def delete_versions(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
            return list(items)  # claims success, deletes nothing

    forgetful = Forgetful(real)
    service.reach.store = lambda name: forgetful if name == "folder" else installation.store(name)
    from retention_pipeline.services.erasure import ErasureIncompleteError

    with pytest.raises(ErasureIncompleteError, match=r"store 'folder': 1 version\(s\) still"):
        service.erase(
            CLIENT, trigger="client_request", requested_by="staff-0012", approved_by="staff-0003"
        )
    assert installation.catalog.list_certificates(CLIENT) == []
    assert home.erase().rc == 0  # the rerun with a store that works converges
    assert home.listed("folder") == []
