"""The destruction certificate: an in-toto Statement v1 whose predicate says what was erased.

The predicate follows the NIST SP 800-88 certificate of sanitization, adapted to logical
storage: per location (store, region) what was removed, how (delete / crypto-erase), how
it was verified and with what result; how the client key was destroyed; which copies
remain (under a compliance lock) and until when. The statement is::

    {"_type": "https://in-toto.io/Statement/v1",
     "subject": [{"name": "store:<store>", "digest": {"sha256": <location digest>}}, ...],
     "predicateType": PREDICATE_TYPE,
     "predicate": {...DestructionPredicate...}}

One subject per location, in the predicate's location order; the subject digest is that
location's digest (``location_digest``), so the subjects name what was erased without
naming any data. Rules (``check_statement`` enforces them):

* no personal data: the client is its opaque id, requester and approver are staff ids
  (the schema refuses ``@`` and spaces, so an e-mail address or a full name cannot slip
  in), objects are digests; the contract reference is the order form's number;
* no unknown or missing fields anywhere (a verifier must not skip what it cannot read);
* every store the client had data on appears, even with zero objects;
* ``completed``: no residual copy and every verification ``passed``;
  ``completed_with_exceptions``: at least one residual copy, each on a listed store;
  ``completed*``: the key destruction is stated. ``scheduled`` announces an erasure.
* times are UTC, to the second, spelled ``YYYY-MM-DDTHH:MM:SSZ``.

The dataclasses live in ``certificate_predicate``; this module builds and checks statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from retention_pipeline.domain.ids import OPAQUE_ID_PATTERN
from retention_pipeline.envelope.certificate_predicate import (
    PREDICATE_TYPE,
    DestructionPredicate,
    KeyDestructionInfo,
    LocationResult,
    ResidualCopy,
    Verification,
    entry_digest,
    location_digest,
    predicate_from_json,
    predicate_to_json,
)
from retention_pipeline.envelope.certificate_schema import (
    STATEMENT_TYPE,
    schema_problems,
    statement_schema,
)
from retention_pipeline.envelope.dsse import CertificateError

__all__ = [
    "OPAQUE_ID_PATTERN",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "DestructionPredicate",
    "KeyDestructionInfo",
    "LocationResult",
    "ResidualCopy",
    "Verification",
    "build_statement",
    "check_statement",
    "entry_digest",
    "location_digest",
    "statement_schema",
]


def build_statement(predicate: DestructionPredicate) -> dict[str, Any]:
    """The in-toto Statement for ``predicate``; ``check_statement`` accepts what this builds.

    Building checks too, so a service can never sign a certificate a client would reject.
    """
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": f"store:{location.store}", "digest": {"sha256": location.digest}}
            for location in predicate.locations
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate_to_json(predicate),
    }
    check_statement(statement)
    return statement


def check_statement(statement: Any) -> DestructionPredicate:
    """Validate a statement (schema, then the rules above) and return its predicate."""
    if not isinstance(statement, Mapping):
        raise CertificateError("certificate statement is not a JSON object")
    if statement.get("_type") != STATEMENT_TYPE:
        raise CertificateError(f"certificate statement _type is not {STATEMENT_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        raise CertificateError(f"certificate predicateType is not {PREDICATE_TYPE}")
    problems = schema_problems(statement)
    if problems:
        raise CertificateError("certificate statement is invalid: " + "; ".join(problems[:5]))
    try:
        predicate = predicate_from_json(statement["predicate"])
    except ValueError as error:
        raise CertificateError(f"certificate statement is invalid: {error}") from error
    _check_subjects(statement["subject"], predicate)
    _check_status(predicate)
    return predicate


def _check_subjects(subjects: list[dict[str, Any]], predicate: DestructionPredicate) -> None:
    stores = [location.store for location in predicate.locations]
    if len(set(stores)) != len(stores):
        raise CertificateError("certificate lists a store twice in predicate.locations")
    expected = [
        {"name": f"store:{location.store}", "digest": {"sha256": location.digest}}
        for location in predicate.locations
    ]
    if subjects != expected:
        raise CertificateError(
            "certificate subjects do not match the location digests of the predicate"
        )


def _check_status(predicate: DestructionPredicate) -> None:
    stores = {location.store for location in predicate.locations}
    for index, copy in enumerate(predicate.residual_copies):
        if copy.store not in stores:
            raise CertificateError(
                f"certificate residual_copies[{index}] names store {copy.store!r}, "
                "which is not in predicate.locations"
            )
    if predicate.status == "scheduled":
        return
    if predicate.key_destruction is None:
        raise CertificateError(
            f"certificate status {predicate.status} needs predicate.key_destruction"
        )
    if predicate.status == "completed_with_exceptions":
        if not predicate.residual_copies:
            raise CertificateError(
                "certificate status completed_with_exceptions lists no residual copies; "
                "use status completed"
            )
        return
    if predicate.residual_copies:
        raise CertificateError(
            "certificate status completed lists residual copies; "
            "use status completed_with_exceptions"
        )
    results = [location.verification.result for location in predicate.locations]
    results.append(predicate.key_destruction.verification.result)
    if any(result != "passed" for result in results):
        raise CertificateError(
            "certificate status completed needs every verification result to be passed"
        )
