"""The typed policy: defaults off, canonical documents, JSON Schema, diffs."""

from __future__ import annotations

from datetime import timedelta

import jsonschema  # no stubs installed
import pytest
from pydantic import ValidationError

from retention_pipeline.domain.documents import parse_yaml
from retention_pipeline.domain.policy import (
    ClientPolicy,
    FieldChange,
    diff_documents,
    policy_json_schema,
)
from tests.policy.examples import GOOD_POLICY


def good() -> ClientPolicy:
    return ClientPolicy.from_document(parse_yaml(GOOD_POLICY, "acme-sas.yaml").data)


def test_nothing_is_processed_unless_the_client_subscribed() -> None:
    policy = ClientPolicy.from_document({"client": "dormant"})
    assert (policy.backup_active, policy.archive_active, policy.processes_anything) == (
        False, False, False,
    )  # fmt: skip
    assert policy.backup.mode == "off"
    assert policy.erasure.approval == "required"


def test_round_trip_through_the_canonical_document() -> None:
    policy = good()
    document = policy.to_document()
    assert document["backup"]["retention"] == {
        "max_age": "35d", "min_age": "7d",
        "keep": {"last": 3, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 6, "yearly": 0},
    }  # fmt: skip
    assert document["archive"]["retention"]["max_age"] == "10y"
    assert policy.backup.retention.max_age == timedelta(days=35)
    assert ClientPolicy.from_document(document) == policy
    assert ClientPolicy.from_document(document).to_document() == document


def test_from_document_enforces_cross_field_rules_without_echoing_values() -> None:
    document = good().to_document()
    document["archive"]["storage"] = document["backup"]["storage"]
    with pytest.raises(ValidationError, match=r"archive\.storage: is the backup store"):
        ClientPolicy.from_document(document)
    document = good().to_document()
    document["display_name"] = 12345
    with pytest.raises(ValidationError) as caught:
        ClientPolicy.from_document(document)
    assert "display_name" in str(caught.value) and "12345" not in str(caught.value)


def test_personal_fields_stay_out_of_repr() -> None:
    text = repr(good())
    assert "ACME SAS" not in text and "BC-2026-0042" not in text and "Restore" not in text


def test_json_schema_accepts_the_example_and_rejects_an_unknown_field() -> None:
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]
    document = good().to_document()
    jsonschema.Draft202012Validator(schema).validate(document)
    document["backup"]["retension"] = {"max_age": "35d"}
    with pytest.raises(jsonschema.ValidationError, match="retension"):
        jsonschema.Draft202012Validator(schema).validate(document)


def test_json_schema_describes_every_field_for_editors() -> None:
    schema = policy_json_schema()
    models = [schema, *schema["$defs"].values()]
    undescribed = [
        f"{model['title']}.{name}"
        for model in models
        for name, prop in model["properties"].items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_diff_lists_changed_leaves_sorted_by_path() -> None:
    old = good().to_document()
    new = good().to_document()
    new["backup"]["retention"]["max_age"] = "40d"
    new["protection"]["client_recipients"] = []
    new["legal_hold"] = {"active": True, "reason": "court order"}
    assert diff_documents(old, new) == [
        FieldChange("backup.retention.max_age", "35d", "40d"),
        FieldChange("legal_hold.active", False, True),
        FieldChange("legal_hold.reason", None, "court order"),
        FieldChange("protection.client_recipients", old["protection"]["client_recipients"], []),
    ]


def test_diff_of_identical_documents_is_empty_and_of_a_new_client_lists_every_leaf() -> None:
    document = good().to_document()
    assert diff_documents(document, good().to_document()) == []
    added = diff_documents(None, {"client": "x", "backup": {"mode": "off", "storage": None}})
    assert added == [FieldChange("backup.mode", None, "off"), FieldChange("client", None, "x")]
    removed = diff_documents({"client": "x"}, None)
    assert removed == [FieldChange("client", "x", None)]


def test_diff_when_a_mapping_becomes_a_value() -> None:
    assert diff_documents({"a": {"b": 1}}, {"a": 2}) == [
        FieldChange("a", None, 2),
        FieldChange("a.b", 1, None),
    ]
