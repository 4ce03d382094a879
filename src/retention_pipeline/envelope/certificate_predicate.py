"""The destruction predicate's fields as frozen dataclasses, and their JSON spelling.

Field names in JSON are the dataclass field names. Optional fields are always present
(``null`` when absent) so that a certificate has one shape. See ``certificate`` for the
rules a statement must meet and ``docs/certificates.md`` for the field table.

Digests, byte for byte (SHA-256, lowercase hex):

* an *entry line* is ``key TAB version_id TAB sha256 LF`` in UTF-8, where ``key`` is the
  object key, ``version_id`` the store's version id (``null`` on an unversioned store,
  the S3 spelling) and ``sha256`` the object's content SHA-256 in lowercase hex;
* ``location_digest`` is the SHA-256 of the concatenation of the location's entry lines
  sorted by their UTF-8 bytes (of no lines: SHA-256 of the empty string);
* ``entry_digest`` (a residual copy's ``key_digest``) is the SHA-256 of one entry line.

The hoster keeps the entry lists, so it can later show which objects a digest covered
without the certificate ever naming an object.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal, cast

PREDICATE_TYPE = "https://retention-pipeline.dev/destruction-certificate/v1"

Status = Literal["completed", "completed_with_exceptions", "scheduled"]
Method = Literal["delete", "crypto-erase"]
Result = Literal["passed", "failed", "pending"]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _utc(at: datetime, what: str) -> datetime:
    """``at`` in UTC to the second; naive times are refused (no guessing a zone)."""
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return at.astimezone(UTC).replace(microsecond=0)


def format_time(at: datetime) -> str:
    """The certificate spelling of a time: ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _utc(at, "time").strftime(TIME_FORMAT)


def parse_time(text: str, what: str) -> datetime:
    """Inverse of ``format_time``; ``ValueError`` naming ``what`` otherwise."""
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} is not a time like 2026-01-31T23:59:59Z") from error


def entry_line(key: str, version_id: str, sha256: str) -> bytes:
    """One object version's line in a location digest (see the module docstring)."""
    for name, value in (("key", key), ("version_id", version_id)):
        if not value or "\t" in value or "\n" in value:
            raise ValueError(f"object {name} must be non-empty without TAB or LF")
    if not _HEX64.fullmatch(sha256):
        raise ValueError("object sha256 must be 64 lowercase hex digits")
    return f"{key}\t{version_id}\t{sha256}\n".encode()


def entry_digest(key: str, version_id: str, sha256: str) -> str:
    """SHA-256 (hex) of one entry line: how a residual copy is named."""
    return hashlib.sha256(entry_line(key, version_id, sha256)).hexdigest()


def location_digest(entries: Iterable[tuple[str, str, str]]) -> str:
    """SHA-256 (hex) of the sorted entry lines of ``(key, version_id, sha256)`` triples."""
    lines = sorted(entry_line(*entry) for entry in entries)
    if len(set(lines)) != len(lines):
        raise ValueError("the same object version is listed twice in one location")
    return hashlib.sha256(b"".join(lines)).hexdigest()


@dataclass(frozen=True)
class Verification:
    """How a removal was checked (e.g. ``list-versions+get``) and what the check found."""

    method: str
    result: Result


@dataclass(frozen=True)
class LocationResult:
    """One store's part of the erasure: counts, the digest of what went, how, and the check."""

    store: str
    location: str
    method: Method
    objects: int
    versions: int
    bytes: int
    digest: str
    verification: Verification


@dataclass(frozen=True)
class KeyDestructionInfo:
    """The client key's end: which key (fingerprint), where it was held, how it went.

    ``deletion_date`` is when the material is gone for good when that lies after
    ``destroyed_at`` (a KMS pending window), else ``None``.
    """

    key_fingerprint: str
    custody: str
    kek_id: str
    method: str
    destroyed_at: datetime
    deletion_date: datetime | None
    verification: Verification

    def __post_init__(self) -> None:
        object.__setattr__(self, "destroyed_at", _utc(self.destroyed_at, "destroyed_at"))
        if self.deletion_date is not None:
            object.__setattr__(self, "deletion_date", _utc(self.deletion_date, "deletion_date"))


@dataclass(frozen=True)
class ResidualCopy:
    """An object version not yet deleted (compliance lock), named by ``entry_digest``."""

    store: str
    location: str
    key_digest: str
    locked_until: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "locked_until", _utc(self.locked_until, "locked_until"))


@dataclass(frozen=True)
class DestructionPredicate:
    """Everything a destruction certificate states. Ids only, never personal data."""

    certificate_id: str
    issued_at: datetime
    issuer: str
    status: Status
    client_id: str
    contract_reference: str | None
    trigger: str
    legal_basis: str | None
    requester_id: str
    approver_id: str | None
    locations: tuple[LocationResult, ...]
    key_destruction: KeyDestructionInfo | None
    residual_copies: tuple[ResidualCopy, ...]
    tool_version: str
    airflow_run_id: str | None
    evidence_head: str
    supersedes: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "issued_at", _utc(self.issued_at, "issued_at"))
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "residual_copies", tuple(self.residual_copies))


def predicate_to_json(predicate: DestructionPredicate) -> dict[str, Any]:
    """The predicate as the JSON object that goes into the statement."""
    return cast(dict[str, Any], _to_json(predicate))


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    if hasattr(value, "__dataclass_fields__"):
        return {item.name: _to_json(getattr(value, item.name)) for item in fields(value)}
    return value


def predicate_from_json(data: Mapping[str, Any]) -> DestructionPredicate:
    """Rebuild the dataclasses from a predicate that passed the schema check."""
    key = data["key_destruction"]
    return DestructionPredicate(
        **{
            **data,
            "issued_at": parse_time(data["issued_at"], "predicate.issued_at"),
            "locations": tuple(_location(item) for item in data["locations"]),
            "key_destruction": None if key is None else _key_destruction(key),
            "residual_copies": tuple(
                ResidualCopy(
                    **{**item, "locked_until": parse_time(item["locked_until"], "locked_until")}
                )
                for item in data["residual_copies"]
            ),
        }
    )


def _location(data: Mapping[str, Any]) -> LocationResult:
    return LocationResult(**{**data, "verification": Verification(**data["verification"])})


def _key_destruction(data: Mapping[str, Any]) -> KeyDestructionInfo:
    deletion = data["deletion_date"]
    return KeyDestructionInfo(
        **{
            **data,
            "destroyed_at": parse_time(data["destroyed_at"], "key_destruction.destroyed_at"),
            "deletion_date": None
            if deletion is None
            else parse_time(deletion, "key_destruction.deletion_date"),
            "verification": Verification(**data["verification"]),
        }
    )


# The dataclass fields, for the schema (which must list exactly these).
PREDICATE_FIELDS = tuple(item.name for item in fields(DestructionPredicate))
LOCATION_FIELDS = tuple(item.name for item in fields(LocationResult))
KEY_FIELDS = tuple(item.name for item in fields(KeyDestructionInfo))
RESIDUAL_FIELDS = tuple(item.name for item in fields(ResidualCopy))
