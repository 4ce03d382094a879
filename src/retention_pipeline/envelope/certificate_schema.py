"""The JSON Schema (draft 2020-12) of a destruction-certificate statement.

Every object is closed (``additionalProperties: false``) and every field required, so a
verifier never accepts a field it does not understand. The string patterns are also the
privacy guard: staff ids and the issuer refuse ``@`` and spaces (no e-mail addresses, no
full names), object keys only appear as digests. Problems are reported by JSON path and
failed keyword, never by value, because the value may be the very thing that must not
be printed.
"""

from __future__ import annotations

import copy
from typing import Any, get_args

from jsonschema import Draft202012Validator

from retention_pipeline.domain.ids import CLIENT_ID_PATTERN, OPAQUE_ID_PATTERN
from retention_pipeline.domain.policy import LegalBasis
from retention_pipeline.domain.settings import STORE_NAME_PATTERN
from retention_pipeline.envelope.certificate_predicate import (
    KEY_FIELDS,
    LOCATION_FIELDS,
    PREDICATE_FIELDS,
    PREDICATE_TYPE,
    RESIDUAL_FIELDS,
)

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
MAX_COUNT = 2**53 - 1

# Opaque ids (certificate, issuer, staff, order form, kek): no '@', no spaces, so no
# e-mail address or full name fits. ``domain.erasure`` checks staff ids and contract
# references against this same pattern before a certificate is built.
_ID = OPAQUE_ID_PATTERN  # the short name the tables below use
_WORD = r"^[a-z0-9][a-z0-9_.+-]{0,127}$"  # methods, custody kinds, triggers
_HEX64 = r"^[0-9a-f]{64}$"
_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_LINE = r"^[^\u0000-\u001f\u007f@]{1,64}$"  # a region or site name


def _string(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null, without ``anyOf`` so that errors keep their precise path."""
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    return {**schema, "type": [schema["type"], "null"]}


def _closed(properties: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    if set(properties) != set(names):  # the schema and the dataclasses must not drift
        raise AssertionError(f"schema fields {sorted(properties)} != {sorted(names)}")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(names),
        "properties": properties,
    }


_COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
_VERIFICATION = _closed(
    {"method": _string(_WORD), "result": {"enum": ["passed", "failed", "pending"]}},
    ("method", "result"),
)
_LOCATION = _closed(
    {
        "store": _string(STORE_NAME_PATTERN),
        "location": _string(_LINE),
        "method": {"enum": ["delete", "crypto-erase"]},
        "objects": _COUNT,
        "versions": _COUNT,
        "bytes": _COUNT,
        "digest": _string(_HEX64),
        "verification": _VERIFICATION,
    },
    LOCATION_FIELDS,
)
_KEY_DESTRUCTION = _closed(
    {
        "key_fingerprint": _string(_HEX64),
        "custody": _string(_WORD),
        "kek_id": _string(_ID),
        "method": _string(_WORD),
        "destroyed_at": _string(_TIME),
        "deletion_date": _nullable(_string(_TIME)),
        "verification": _VERIFICATION,
    },
    KEY_FIELDS,
)
_RESIDUAL = _closed(
    {
        "store": _string(STORE_NAME_PATTERN),
        "location": _string(_LINE),
        "key_digest": _string(_HEX64),
        "locked_until": _string(_TIME),
    },
    RESIDUAL_FIELDS,
)
_PREDICATE = _closed(
    {
        "certificate_id": _string(_ID),
        "issued_at": _string(_TIME),
        "issuer": _string(_ID),
        "status": {"enum": ["completed", "completed_with_exceptions", "scheduled"]},
        "client_id": _string(CLIENT_ID_PATTERN),
        "contract_reference": _nullable(_string(_ID)),
        "trigger": _string(_WORD),
        "legal_basis": _nullable({"enum": list(get_args(LegalBasis))}),
        "requester_id": _string(_ID),
        "approver_id": _nullable(_string(_ID)),
        "locations": {"type": "array", "minItems": 1, "items": _LOCATION},
        "key_destruction": _nullable(_KEY_DESTRUCTION),
        "residual_copies": {"type": "array", "items": _RESIDUAL},
        "tool_version": _string(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$"),
        "airflow_run_id": _nullable(_string(_ID)),
        "evidence_head": _string(_HEX64),
        "supersedes": _nullable(_string(_ID)),
    },
    PREDICATE_FIELDS,
)
_SUBJECT = _closed(
    {
        "name": _string(r"^store:" + STORE_NAME_PATTERN[1:]),
        "digest": _closed({"sha256": _string(_HEX64)}, ("sha256",)),
    },
    ("name", "digest"),
)
_STATEMENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": PREDICATE_TYPE + "/statement.schema.json",
    "title": "retention-pipeline destruction certificate (in-toto Statement v1)",
    **_closed(
        {
            "_type": {"const": STATEMENT_TYPE},
            "subject": {"type": "array", "minItems": 1, "items": _SUBJECT},
            "predicateType": {"const": PREDICATE_TYPE},
            "predicate": _PREDICATE,
        },
        ("_type", "subject", "predicateType", "predicate"),
    ),
}
Draft202012Validator.check_schema(_STATEMENT)
_VALIDATOR = Draft202012Validator(_STATEMENT)


def statement_schema() -> dict[str, Any]:
    """A copy of the statement's JSON Schema (for docs and for other verifiers)."""
    return copy.deepcopy(_STATEMENT)


def schema_problems(statement: Any) -> list[str]:
    """One line per schema violation: JSON path and failed keyword, never the value."""
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(statement), key=lambda e: str(e.json_path)):
        where = error.json_path
        if error.validator == "additionalProperties":
            problems.append(f"{where} has a field this version does not define")
        elif error.validator == "required":
            problems.append(f"{where} is missing a required field")
        else:
            problems.append(f"{where} fails {error.validator!s}")
    return problems
