"""The statement: what it says, the digests it names, and the rules a verifier enforces."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from retention_pipeline.envelope.certificate import (
    PREDICATE_TYPE,
    STATEMENT_TYPE,
    Verification,
    build_statement,
    check_statement,
    entry_digest,
    location_digest,
    statement_schema,
)
from retention_pipeline.envelope.dsse import CertificateError
from tests.certificates.support import BACKUP_OBJECTS, SHA_A, SHA_B, predicate


@pytest.fixture
def statement() -> dict[str, Any]:
    return build_statement(predicate())


def test_statement_shape_and_subjects(statement: dict[str, Any]) -> None:
    assert statement["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [
        {"name": "store:backups-eu", "digest": {"sha256": location_digest(BACKUP_OBJECTS)}},
        {"name": "store:archives-eu-cold", "digest": {"sha256": predicate().locations[1].digest}},
    ]
    assert statement["predicate"]["issued_at"] == "2026-05-04T10:30:15Z"
    assert statement["predicate"]["key_destruction"]["deletion_date"] == "2026-05-11T10:30:00Z"
    assert check_statement(statement) == predicate()


def test_location_digest_is_the_documented_byte_encoding() -> None:
    entries = [("b/key", "v2", SHA_B), ("a/key", "null", SHA_A)]
    lines = f"a/key\tnull\t{SHA_A}\nb/key\tv2\t{SHA_B}\n".encode()
    assert location_digest(entries) == hashlib.sha256(lines).hexdigest()
    assert location_digest(reversed(entries)) == location_digest(entries)
    assert location_digest([]) == hashlib.sha256(b"").hexdigest()
    one = f"a/key\tnull\t{SHA_A}\n".encode()
    assert entry_digest("a/key", "null", SHA_A) == hashlib.sha256(one).hexdigest()


@pytest.mark.parametrize(
    "entry",
    [("a\tb", "v1", "a" * 64), ("a", "v\n1", "a" * 64), ("a", "", "a" * 64), ("a", "v", "A" * 64)],
)
def test_ambiguous_entries_are_refused(entry: tuple[str, str, str]) -> None:
    with pytest.raises(ValueError, match="object"):
        location_digest([entry])


def test_duplicate_entries_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        location_digest([BACKUP_OBJECTS[0], BACKUP_OBJECTS[0]])


def test_times_are_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=2))
    local = predicate(issued_at=datetime(2026, 5, 4, 12, 30, 15, 999, tzinfo=paris))
    assert local.issued_at == datetime(2026, 5, 4, 10, 30, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        predicate(issued_at=datetime(2026, 5, 4, 10, 30))


def edit(statement: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    edited = copy.deepcopy(statement)
    *parents, last = path.split(".")
    node: Any = edited
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return edited


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("_type", "https://in-toto.io/Statement/v0.1", "_type"),
        ("predicateType", "https://example.com/other", "predicateType"),
        ("predicate.status", "done", "status"),
        ("predicate.client_id", "ACME SAS", "client_id"),
        ("predicate.requester_id", "jane.doe@example.com", "requester_id"),
        ("predicate.approver_id", "Jane Doe", "approver_id"),
        ("predicate.locations.0.method", "shred", "method"),
        ("predicate.locations.0.objects", -1, "objects"),
        ("predicate.locations.0.digest", "A" * 64, "digest"),
        ("predicate.issued_at", "2026-05-04 10:30:15", "issued_at"),
        ("predicate.issued_at", "2026-02-30T10:30:15Z", "issued_at"),
        ("predicate.locations", [], "locations"),
        ("subject.0.digest.sha256", "0" * 64, "subjects"),
        ("subject.0.name", "store:archives-eu-cold", "subjects"),
        ("subject", [], "subject"),
    ],
)
def test_invalid_statements_are_rejected(
    statement: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(CertificateError, match=message):
        check_statement(edit(statement, path, value))


@pytest.mark.parametrize(
    "where", ["", "predicate", "predicate.locations.0", "predicate.key_destruction",
              "predicate.residual_copies.0", "subject.0.digest"],
)  # fmt: skip
def test_unknown_fields_are_rejected_everywhere(statement: dict[str, Any], where: str) -> None:
    edited = copy.deepcopy(statement)
    node: Any = edited
    for part in filter(None, where.split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    node["extra"] = "x"
    with pytest.raises(CertificateError, match="does not define"):
        check_statement(edited)


@pytest.mark.parametrize("field", ["certificate_id", "evidence_head", "supersedes"])
def test_missing_fields_are_rejected(statement: dict[str, Any], field: str) -> None:
    edited = copy.deepcopy(statement)
    del edited["predicate"][field]
    with pytest.raises(CertificateError, match="missing"):
        check_statement(edited)


def test_status_rules() -> None:
    with pytest.raises(CertificateError, match="use status completed_with_exceptions"):
        build_statement(predicate(status="completed"))
    with pytest.raises(CertificateError, match="lists no residual copies"):
        build_statement(predicate(residual_copies=()))
    build_statement(predicate(status="completed", residual_copies=()))
    with pytest.raises(CertificateError, match="key_destruction"):
        build_statement(predicate(key_destruction=None))
    build_statement(predicate(status="scheduled", key_destruction=None))
    failed = dataclasses.replace(
        predicate().locations[0], verification=Verification("list-versions", "failed")
    )
    with pytest.raises(CertificateError, match="passed"):
        build_statement(
            predicate(
                status="completed", residual_copies=(), locations=(failed, predicate().locations[1])
            )
        )


def test_residual_copies_must_be_on_a_listed_store() -> None:
    copy_elsewhere = dataclasses.replace(predicate().residual_copies[0], store="other-store")
    with pytest.raises(CertificateError, match=r"not in predicate\.locations"):
        build_statement(predicate(residual_copies=(copy_elsewhere,)))


def test_a_store_is_listed_once() -> None:
    first = predicate().locations[0]
    with pytest.raises(CertificateError, match="twice"):
        build_statement(predicate(locations=(first, first), residual_copies=(),
                                  status="completed"))  # fmt: skip


def test_schema_is_closed_and_lists_every_field() -> None:
    schema = statement_schema()
    predicate_schema = schema["properties"]["predicate"]
    assert predicate_schema["additionalProperties"] is False
    assert set(predicate_schema["required"]) == set(build_statement(predicate())["predicate"])
    schema["properties"].clear()  # a copy: the verifier's schema is untouched
    check_statement(build_statement(predicate()))
