"""Archive copies, erasure requests and certificates are stored, linked and listed."""

from __future__ import annotations

import pytest

from retention_pipeline.adapters.catalog import SqlCatalog
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import (
    ConflictError,
    NewArchiveCopy,
    NewCertificate,
    NewErasureRequest,
    NewRecoveryPoint,
    TransitionError,
)
from tests.catalog.conftest import at

SHA = "cd" * 32


@pytest.fixture
def rp_id(catalog: SqlCatalog) -> str:
    for client_id in ("acme-sas", "other-co"):
        catalog.record_policy_version(client_id, {"client": client_id}, [], "ops", at(0), None)
    catalog.add_recovery_point(
        NewRecoveryPoint("rp-1", "acme-sas", "backups-eu", "acme-sas/rp-1.age", at(1))
    )
    catalog.complete_recovery_point("rp-1", size=10, sha256=SHA, version_id="v1", at=at(2))
    return "rp-1"


def archive(copy_id: str, rp_id: str, client_id: str = "acme-sas") -> NewArchiveCopy:
    return NewArchiveCopy(
        id=copy_id,
        recovery_point_id=rp_id,
        client_id=client_id,
        store="archives-eu-cold",
        key=f"{client_id}/{rp_id}.age",
        version_id="av1",
        size=10,
        sha256=SHA,
        created_at=at(3),
        storage_class="DEEP_ARCHIVE",
        lock_mode="compliance",
        lock_until=at(60 * 24 * 3650),
    )


def test_archive_copy_lifecycle(catalog: SqlCatalog, rp_id: str) -> None:
    copy = catalog.add_archive_copy(archive("ac-1", rp_id))
    assert (copy.status, copy.lock_mode, copy.lock_until) == (
        "present",
        "compliance",
        at(60 * 24 * 3650),
    )
    assert catalog.list_archive_copies("acme-sas") == [copy]
    assert catalog.list_archive_copies("other-co") == []

    gone = catalog.mark_archive_copy_deleted("ac-1", "retention:max_age", at(4))
    assert (gone.status, gone.deleted_at, gone.reason) == ("deleted", at(4), "retention:max_age")
    with pytest.raises(TransitionError, match="'ac-1' is already deleted"):
        catalog.mark_archive_copy_deleted("ac-1", "again", at(5))
    with pytest.raises(NotFoundError, match="'ac-x'"):
        catalog.mark_archive_copy_deleted("ac-x", "again", at(5))


def test_archive_copy_keeps_its_recovery_points_client(catalog: SqlCatalog, rp_id: str) -> None:
    with pytest.raises(ConflictError, match="belongs to client 'acme-sas'"):
        catalog.add_archive_copy(archive("ac-1", rp_id, client_id="other-co"))
    with pytest.raises(NotFoundError, match="recovery point 'rp-x'"):
        catalog.add_archive_copy(archive("ac-1", "rp-x"))
    assert catalog.list_archive_copies() == []


def test_erasure_request_and_certificates(catalog: SqlCatalog, rp_id: str) -> None:
    request = catalog.add_erasure_request(
        NewErasureRequest(
            id="er-1",
            client_id="acme-sas",
            trigger="end_of_contract",
            requested_by="ops",
            created_at=at(5),
            request_ref="BC-2026-0042",
            details={"stores": ["backups-eu"]},
        )
    )
    assert (request.status, request.finished_at, request.details) == (
        "requested",
        None,
        {"stores": ["backups-eu"]},
    )
    assert catalog.list_erasure_requests("acme-sas") == [request]

    first = catalog.add_certificate(
        NewCertificate(
            id="cert-1",
            client_id="acme-sas",
            status="completed_with_exceptions",
            issued_at=at(6),
            envelope_sha256=SHA,
            bundle={"envelope": {"payloadType": "application/vnd.in-toto+json"}},
            erasure_request_id="er-1",
            leaf_index=0,
        )
    )
    second = catalog.add_certificate(
        NewCertificate(
            "cert-2", "acme-sas", "completed", at(7), SHA, {}, "er-1", 1, supersedes="cert-1"
        )
    )
    assert catalog.list_certificates("acme-sas") == [first, second]
    assert second.supersedes == "cert-1"

    with pytest.raises(ConflictError, match="leaf 1 already holds certificate 'cert-2'"):
        catalog.add_certificate(
            NewCertificate("cert-3", "acme-sas", "completed", at(8), SHA, {}, "er-1", 1)
        )
    with pytest.raises(NotFoundError, match="erasure request 'er-x'"):
        catalog.add_certificate(
            NewCertificate("cert-3", "acme-sas", "completed", at(8), SHA, {}, "er-x")
        )
