"""Integrity checks are recorded once, listed oldest first, and bound to their client."""

from __future__ import annotations

import pytest

from retention_pipeline.adapters.catalog import SqlCatalog
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import ConflictError, NewIntegrityCheck, NewRecoveryPoint
from tests.catalog.conftest import at


def add_point(catalog: SqlCatalog, client: str, rp_id: str) -> None:
    catalog.record_policy_version(client, {"backup": {"mode": "off"}}, [], "ops", at(0))
    catalog.add_recovery_point(NewRecoveryPoint(rp_id, client, "backups", f"{rp_id}.age", at(1)))


def check(
    check_id: str, rp_id: str = "rp-1", client: str = "acme-sas", **kw: object
) -> NewIntegrityCheck:
    fields: dict[str, object] = {"kind": "verify", "result": "passed", "checked_at": at(5)}
    fields.update(kw)
    return NewIntegrityCheck(
        id=check_id,
        client_id=client,
        recovery_point_id=rp_id,
        details={"rows": 3},
        **fields,  # type: ignore[arg-type]
    )


def test_checks_round_trip_and_list_oldest_first(catalog: SqlCatalog) -> None:
    add_point(catalog, "acme-sas", "rp-1")
    add_point(catalog, "beta-sarl", "rp-2")
    catalog.add_integrity_check(check("ic-2", checked_at=at(9), kind="restore_drill"))
    first = catalog.add_integrity_check(check("ic-1", result="failed"))
    catalog.add_integrity_check(check("ic-3", "rp-2", "beta-sarl"))
    assert first.checked_at == at(5) and first.details == {"rows": 3}
    assert [c.id for c in catalog.list_integrity_checks("acme-sas")] == ["ic-1", "ic-2"]
    assert [c.id for c in catalog.list_integrity_checks()] == ["ic-1", "ic-3", "ic-2"]
    assert catalog.list_integrity_checks("acme-sas")[1].kind == "restore_drill"


def test_a_check_is_recorded_once(catalog: SqlCatalog) -> None:
    add_point(catalog, "acme-sas", "rp-1")
    catalog.add_integrity_check(check("ic-1"))
    with pytest.raises(ConflictError, match="ic-1"):
        catalog.add_integrity_check(check("ic-1"))


def test_a_check_of_another_clients_point_is_refused(catalog: SqlCatalog) -> None:
    add_point(catalog, "acme-sas", "rp-1")
    add_point(catalog, "beta-sarl", "rp-2")
    with pytest.raises(NotFoundError, match="'rp-2' is not one of client 'acme-sas'"):
        catalog.add_integrity_check(check("ic-1", "rp-2"))
    with pytest.raises(NotFoundError, match="'rp-9'"):
        catalog.add_integrity_check(check("ic-2", "rp-9"))
    assert catalog.list_integrity_checks() == []
