"""A recovery point is committed once, from pending only; its slot is taken once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retention_pipeline.adapters.catalog import SqlCatalog
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import (
    ConflictError,
    NewRecoveryPoint,
    RecoveryPoint,
    TransitionError,
)
from tests.catalog.conftest import at

SHA = "ab" * 32


@pytest.fixture
def client(catalog: SqlCatalog) -> str:
    catalog.record_policy_version("acme-sas", {"client": "acme-sas"}, [], "ops", at(0), None)
    return "acme-sas"


def new_rp(rp_id: str, client_id: str = "acme-sas", slot: int | None = None) -> NewRecoveryPoint:
    return NewRecoveryPoint(
        id=rp_id,
        client_id=client_id,
        store="backups-eu",
        key=f"{client_id}/{rp_id}.age",
        created_at=at(10),
        scheduled_for=at(slot) if slot is not None else None,
        requested_by="scheduler",
        recipients=("age1fingerprint",),
    )


def complete(catalog: SqlCatalog, rp_id: str) -> RecoveryPoint:
    return catalog.complete_recovery_point(
        rp_id, size=1234, sha256=SHA, version_id="v1", at=at(11), manifest_sha256=SHA
    )


def test_new_point_is_pending_then_complete(catalog: SqlCatalog, client: str) -> None:
    pending = catalog.add_recovery_point(new_rp("rp-1", slot=0))
    assert (pending.status, pending.size, pending.completed_at) == ("pending", None, None)
    assert pending.recipients == ("age1fingerprint",)

    done = complete(catalog, "rp-1")
    assert (done.status, done.size, done.sha256, done.version_id) == ("complete", 1234, SHA, "v1")
    assert done.completed_at == at(11) and done.manifest_sha256 == SHA
    assert catalog.get_recovery_point("rp-1") == done


def test_complete_point_cannot_be_completed_twice(catalog: SqlCatalog, client: str) -> None:
    catalog.add_recovery_point(new_rp("rp-1"))
    first = complete(catalog, "rp-1")
    with pytest.raises(TransitionError, match="'rp-1' is complete"):
        catalog.complete_recovery_point(
            "rp-1", size=1, sha256="00" * 32, version_id="v2", at=at(12)
        )
    assert catalog.get_recovery_point("rp-1") == first


Step = Callable[[SqlCatalog, str], RecoveryPoint]
STEPS: dict[str, Step] = {
    "complete": complete,
    "failed": lambda c, rp: c.fail_recovery_point(rp, "upload-timeout", at(11)),
    "deleted": lambda c, rp: c.mark_recovery_point_deleted(rp, "retention:max_age", at(11)),
}
# (steps taken first, step tried next, allowed?)
CASES = [
    ((), "complete", True),
    ((), "failed", True),
    ((), "deleted", True),
    (("complete",), "failed", False),
    (("complete",), "deleted", True),
    (("failed",), "complete", False),
    (("failed",), "deleted", True),
    (("deleted",), "complete", False),
    (("deleted",), "failed", False),
    (("deleted",), "deleted", False),
]


@pytest.mark.parametrize(("before", "step", "allowed"), CASES)
def test_lifecycle_transitions(
    catalog: SqlCatalog, client: str, before: tuple[str, ...], step: str, allowed: bool
) -> None:
    catalog.add_recovery_point(new_rp("rp-1"))
    for name in before:
        STEPS[name](catalog, "rp-1")
    state = catalog.get_recovery_point("rp-1")
    if allowed:
        assert STEPS[step](catalog, "rp-1").status == step
    else:
        with pytest.raises(TransitionError, match="nothing was changed"):
            STEPS[step](catalog, "rp-1")
        assert catalog.get_recovery_point("rp-1") == state


def test_failure_and_deletion_keep_reason_and_time(catalog: SqlCatalog, client: str) -> None:
    catalog.add_recovery_point(new_rp("rp-1"))
    failed = catalog.fail_recovery_point("rp-1", "upload-timeout", at(11))
    assert (failed.reason, failed.failed_at) == ("upload-timeout", at(11))
    deleted = catalog.mark_recovery_point_deleted("rp-1", "orphan-cleanup", at(12))
    assert (deleted.status, deleted.reason, deleted.deleted_at) == (
        "deleted",
        "orphan-cleanup",
        at(12),
    )


def test_unknown_ids_and_clients_are_named(catalog: SqlCatalog, client: str) -> None:
    with pytest.raises(NotFoundError, match="'rp-x'"):
        catalog.get_recovery_point("rp-x")
    with pytest.raises(NotFoundError, match="'rp-x'"):
        complete(catalog, "rp-x")
    with pytest.raises(NotFoundError, match=r"client 'ghost-co'.*record its policy first"):
        catalog.add_recovery_point(new_rp("rp-2", client_id="ghost-co"))


def test_one_point_per_client_and_slot(catalog: SqlCatalog, client: str) -> None:
    catalog.add_recovery_point(new_rp("rp-1", slot=0))
    with pytest.raises(ConflictError, match="'rp-1'"):
        catalog.add_recovery_point(new_rp("rp-2", slot=0))
    with pytest.raises(ConflictError, match="'rp-1' already exists"):
        catalog.add_recovery_point(new_rp("rp-1", slot=60))
    # Unscheduled (manual) points never collide, and other slots are free.
    catalog.add_recovery_point(new_rp("rp-3"))
    catalog.add_recovery_point(new_rp("rp-4"))
    catalog.add_recovery_point(new_rp("rp-5", slot=60))
    assert len(catalog.list_recovery_points()) == 4


def test_listing_filters_by_client_and_status(catalog: SqlCatalog, client: str) -> None:
    catalog.record_policy_version("other-co", {"client": "other-co"}, [], "ops", at(0), None)
    for rp_id in ("rp-1", "rp-2", "rp-3"):
        catalog.add_recovery_point(new_rp(rp_id))
    catalog.add_recovery_point(new_rp("rp-9", client_id="other-co"))
    complete(catalog, "rp-2")
    catalog.fail_recovery_point("rp-3", "dump-error", at(11))

    def ids(points: list[RecoveryPoint]) -> list[str]:
        return [p.id for p in points]

    assert ids(catalog.list_recovery_points("acme-sas")) == ["rp-1", "rp-2", "rp-3"]
    assert ids(catalog.list_recovery_points(statuses=["complete", "failed"])) == ["rp-2", "rp-3"]
    assert ids(catalog.list_recovery_points("other-co", ["pending"])) == ["rp-9"]
    assert catalog.list_recovery_points(statuses=[]) == []
