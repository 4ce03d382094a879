"""Policy changes are versioned: who, when, what changed, with evidence in the same step."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, timedelta, timezone
from typing import Any

from retention_pipeline.adapters.catalog import SqlCatalog
from retention_pipeline.domain.evidence import verify_chain
from tests.catalog.conftest import at

DOC_V1: dict[str, Any] = {
    "client": "acme-sas",
    "display_name": "Société ACME",
    "backup": {"mode": "automated", "retention": {"max_age": "35d"}},
    "erasure": {"certificate_to": ["dpo@acme.example"]},
}
DOC_V2: dict[str, Any] = {
    **DOC_V1,
    "backup": {"mode": "automated", "retention": {"max_age": "60d"}},
}
CHANGE = {"path": "backup.retention.max_age", "old": "35d", "new": "60d"}


def spec_digest(doc: dict[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_versions_count_up_and_history_is_oldest_first(catalog: SqlCatalog) -> None:
    first = catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", at(0), "Société ACME")
    second = catalog.record_policy_version("acme-sas", DOC_V2, [CHANGE], "bob", at(5), None)

    assert (first.version, second.version) == (1, 2)
    history = catalog.policy_history("acme-sas")
    assert [(v.version, v.actor, v.recorded_at) for v in history] == [
        (1, "alice", at(0)),
        (2, "bob", at(5)),
    ]
    assert history[1].document == DOC_V2
    assert history[1].changes == [CHANGE]
    assert history[1].digest == spec_digest(DOC_V2)
    assert catalog.latest_policy("acme-sas") == second


def test_unknown_client_has_no_policy(catalog: SqlCatalog) -> None:
    assert catalog.latest_policy("nobody") is None
    assert catalog.policy_history("nobody") == []
    assert catalog.list_clients() == []


def test_times_come_back_in_utc_whatever_offset_went_in(catalog: SqlCatalog) -> None:
    paris = at(0).astimezone(timezone(timedelta(hours=1)))
    version = catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", paris, None)
    stored = catalog.latest_policy("acme-sas")

    assert stored is not None
    for value in (version.recorded_at, stored.recorded_at, catalog.list_clients()[0].created_at):
        assert value == at(0)
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
        assert value.tzinfo == UTC


def test_removed_policy_keeps_the_client_marked_removed(catalog: SqlCatalog) -> None:
    catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", at(0), "Société ACME")
    removal = catalog.record_policy_version(
        "acme-sas", None, [{"path": "", "old": "present", "new": None}], "alice", at(1), None
    )
    assert removal.removed and removal.document is None and removal.digest is None

    (client,) = catalog.list_clients()
    assert (client.client_id, client.current_version, client.removed) == ("acme-sas", 2, True)
    assert client.created_at == at(0)
    assert client.display_name == "Société ACME"

    catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", at(2), "ACME SAS")
    (client,) = catalog.list_clients()
    assert (client.current_version, client.removed, client.display_name) == (3, False, "ACME SAS")


def test_clients_are_listed_by_id(catalog: SqlCatalog) -> None:
    for client_id in ("zeta-co", "acme-sas", "mid-corp"):
        catalog.record_policy_version(client_id, {"client": client_id}, [], "ops", at(0), None)
    assert [c.client_id for c in catalog.list_clients()] == ["acme-sas", "mid-corp", "zeta-co"]


def test_each_version_logs_field_paths_and_digest_never_values(catalog: SqlCatalog) -> None:
    catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", at(0), "Société ACME")
    catalog.record_policy_version(
        "acme-sas",
        {**DOC_V2, "erasure": {"certificate_to": ["jeanne.dupont@acme.example"]}},
        [CHANGE, {"path": "erasure.certificate_to", "old": ["dpo@acme.example"], "new": ["x"]}],
        "bob",
        at(1),
        "Société ACME",
    )

    entries = list(catalog.evidence_entries())
    assert [(e.seq, e.action, e.actor) for e in entries] == [
        (1, "policy.recorded", "alice"),
        (2, "policy.recorded", "bob"),
    ]
    assert entries[1].subjects == {"client": "acme-sas", "policy_version": "2"}
    assert entries[1].details["changed_fields"] == [
        "backup.retention.max_age",
        "erasure.certificate_to",
    ]
    assert entries[1].details["digest"] == catalog.policy_history("acme-sas")[1].digest
    logged = json.dumps([(e.subjects, e.details) for e in entries], ensure_ascii=False)
    for secret in ("Société ACME", "@acme.example", "35d", "60d"):
        assert secret not in logged
    assert verify_chain(entries).ok


def test_returned_documents_are_copies(catalog: SqlCatalog) -> None:
    version = catalog.record_policy_version("acme-sas", DOC_V1, [], "alice", at(0), None)
    assert version.document is not None
    version.document["backup"]["mode"] = "off"

    stored = catalog.latest_policy("acme-sas")
    assert stored is not None and stored.document == DOC_V1
