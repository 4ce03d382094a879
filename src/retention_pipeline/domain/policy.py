"""The client policy: one order form (bon de commande) as a typed, validated document.

Vocabulary: a policy answers the order form's questions for one client: where its data
is kept (``backup.storage``, ``archive.storage``), how it is protected (``protection``,
``archive.lock``), for what purpose (``purpose``, ``legal_basis``), for how long
(``*.retention``), by which mechanism (``backup.mode``), how often (``backup.schedule``,
``archive.every``) and how it is erased (``erasure``).

Rules this module enforces:

- privacy by default: every option is off unless the file turns it on, so a policy with
  only ``client:`` processes nothing;
- unknown fields are errors, never ignored (a misspelled ``retention`` would otherwise
  silently fall back to a default);
- personal fields (``display_name``, ``purpose``, ``contract.reference``,
  ``legal_hold.reason``) are kept out of ``repr`` so they cannot slip into a log line;
- durations are timedeltas in memory and ``35d`` strings in documents, so the canonical
  document (``to_document``) reads like the file a person wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from retention_pipeline.domain.documents import invalid, looks_secret, render_path
from retention_pipeline.domain.policy_fields import (
    ClientId,
    ConnectionRef,
    Cron,
    Destination,
    Duration,
    Recipient,
    StoreRef,
)
from retention_pipeline.domain.policy_rules import policy_findings
from retention_pipeline.domain.schedule import ArchiveEvery

DEFER_RULES = {"defer_rules": True}
"""Validation context for checkers that report cross-field rules themselves."""

_NAMED_CONNECTION = "use a named connection from retention.yaml (source.database.connection)"
_CREDENTIAL_KEYS = frozenset({"url", "password", "passwd", "pwd", "dsn", "secret", "token"})
SCHEMA_ID = "urn:retention-pipeline:schema:client-policy:1"
LegalBasis = Literal[
    "contract", "consent", "legal_obligation", "legitimate_interests",
    "vital_interests", "public_task",
]  # fmt: skip


class _Section(BaseModel):
    # hide_input_in_errors: a raw ValidationError must not print personal values.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Contract(_Section):
    """The order form itself."""

    reference: str | None = Field(None, repr=False, description="Order form number")
    ends_on: date | None = Field(None, description="When the contract ends (starts erasure)")


class DatabaseSource(_Section):
    """Which CRM database is backed up."""

    connection: ConnectionRef = Field(description="A connection named in retention.yaml")


class DocumentsSource(_Section):
    """Which document folder is backed up."""

    path: str = Field(min_length=1, description="Folder of the client's CRM documents")


class Source(_Section):
    """What data is covered by the order form."""

    database: DatabaseSource | None = Field(None, description="The client's CRM database")
    documents: DocumentsSource | None = Field(None, description="The client's documents")

    @model_validator(mode="before")
    @classmethod
    def _refuse_inline_credentials(cls, data: Any) -> Any:
        """A URL with a password or a password field is refused wherever it sits."""
        where = _credential_in(data)
        if where is not None:
            raise invalid(
                "inline_credential", "inline credentials are refused", _NAMED_CONNECTION, where
            )
        return data


def _credential_in(data: object, prefix: str = "") -> str | None:
    """Dotted path of the first credential-looking key or value under ``data``."""
    if not isinstance(data, Mapping):
        return None
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key in _CREDENTIAL_KEYS or looks_secret(value):
            return path
        found = _credential_in(value, f"{path}.")
        if found is not None:
            return found
    return None


def _count(question: str) -> Any:
    return Field(0, ge=0, description=f"How many {question} points to keep (0 = no rule)")


class Keep(_Section):
    """How backups between min_age and max_age are thinned (restic-style rules)."""

    last: int = _count("most recent")
    hourly: int = _count("hourly")
    daily: int = _count("daily")
    weekly: int = _count("weekly")
    monthly: int = _count("monthly")
    yearly: int = _count("yearly")


_MAX_AGE = "For how long: each copy is deleted at the latest this long after it was made"
_MIN_AGE = "For how long: no copy is deleted before it is this old"


class BackupRetention(_Section):
    """For how long backups are kept."""

    max_age: Duration | None = Field(None, description=_MAX_AGE)
    min_age: Duration = Field(timedelta(0), description=_MIN_AGE)
    keep: Keep = Field(default_factory=Keep, description="Which backups are kept in between")


class Backup(_Section):
    """The regular backups option."""

    mode: Literal["automated", "semi_manual", "off"] = Field(
        "off", description="By which mechanism: automated, semi_manual (on request) or off"
    )
    schedule: Cron | None = Field(None, description="How often: a 5-field UTC cron")
    storage: StoreRef | None = Field(None, description="Where it is kept: a store name")
    retention: BackupRetention = Field(
        default_factory=BackupRetention, description="For how long backups are kept"
    )


class ArchiveRetention(_Section):
    """For how long archive copies are kept."""

    max_age: Duration | None = Field(None, description=_MAX_AGE)
    min_age: Duration = Field(timedelta(0), description=_MIN_AGE)


class ArchiveLock(_Section):
    """How archive copies are protected against deletion (S3 Object Lock)."""

    mode: Literal["governance", "compliance"] = Field(
        description="compliance: nobody can delete early; governance: privileged users can"
    )
    days: int = Field(gt=0, description="How many days each copy stays locked")


class Archive(_Section):
    """The long-term archives option (a separate store)."""

    enabled: bool = Field(False, description="Whether the client subscribed to archives")
    every: ArchiveEvery | None = Field(None, description="How often an archive copy is made")
    storage: StoreRef | None = Field(None, description="Where it is kept: not the backup store")
    retention: ArchiveRetention = Field(
        default_factory=ArchiveRetention, description="For how long archive copies are kept"
    )
    lock: ArchiveLock | None = Field(None, description="How it is protected: object lock")


class Protection(_Section):
    """How the data is protected: who can decrypt the backups."""

    client_recipients: list[Recipient] = Field(
        default_factory=list, description="The client's age public keys (age1...)"
    )
    hoster_can_decrypt: bool = Field(True, description="Whether the hoster's key also decrypts")


class Erasure(_Section):
    """How the data is erased at the end of the contract."""

    after_contract_end: Duration = Field(
        timedelta(days=30), description="Delay between contract end and erasure"
    )
    certificate_to: list[Destination] = Field(
        default_factory=list, description="Where destruction certificates are delivered"
    )
    approval: Literal["required", "none"] = Field(
        "required", description="Whether an operator must approve each erasure"
    )


class LegalHold(_Section):
    """A hold suspends every deletion (retention and erasure) for this client."""

    active: bool = Field(False, description="Whether a legal hold is in force")
    reason: str | None = Field(None, repr=False, description="Why (personal data, kept private)")


class ClientPolicy(_Section):
    """One client's order form. Absent sections mean the option is off."""

    client: ClientId = Field(description="Opaque client id; the file is policies/<client>.yaml")
    display_name: str | None = Field(
        None, max_length=200, repr=False, description="Client name (personal)"
    )
    contract: Contract = Field(default_factory=Contract, description="The order form")
    source: Source = Field(default_factory=Source, description="Which data is covered")
    backup: Backup = Field(default_factory=Backup, description="The regular backups option")
    archive: Archive = Field(default_factory=Archive, description="The archives option")
    purpose: str | None = Field(None, repr=False, description="For what purpose data is kept")
    legal_basis: LegalBasis | None = Field(None, description="On what legal basis (GDPR art. 6)")
    protection: Protection = Field(default_factory=Protection, description="How it is protected")
    erasure: Erasure = Field(default_factory=Erasure, description="How it is erased")
    legal_hold: LegalHold = Field(default_factory=LegalHold, description="Suspends deletions")

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> ClientPolicy:
        """Refuse a contradictory order form unless a checker reports the rules itself."""
        if isinstance(info.context, Mapping) and info.context.get("defer_rules"):
            return self
        findings = policy_findings(self.to_document())
        if findings:
            first = findings[0]
            message = f"{render_path(first.path)}: {first.message}"
            raise invalid("policy_rule", message, first.hint)
        return self

    @property
    def backup_active(self) -> bool:
        """Whether regular backups run (automated or semi_manual)."""
        return self.backup.mode != "off"

    @property
    def archive_active(self) -> bool:
        """Whether archive copies are made."""
        return self.archive.enabled

    @property
    def processes_anything(self) -> bool:
        """Whether any data of this client is processed at all (privacy by default)."""
        return self.backup_active or self.archive_active

    def to_document(self) -> dict[str, Any]:
        """The canonical, JSON-able document: every field, defaults filled, ``35d`` durations."""
        return self.model_dump(mode="json")

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ClientPolicy:
        """Rebuild a policy from a document (``to_document`` output or parsed YAML).

        Raises pydantic's ``ValidationError`` (without input values) when it is invalid.
        """
        return cls.model_validate(document)


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a policy file, for editors and CI linting.

    It covers fields and types; cross-field rules are only checked by ``policy check``.
    """
    # Serialization mode: defaults are shown as they are written in a file (30d, not P30D).
    schema = ClientPolicy.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "retention-pipeline client policy (order form)",
    }


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two policy versions.

    Values are raw: personal fields must be redacted by whoever displays them.
    """

    path: str
    old: Any
    new: Any


def _leaves(document: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    leaves: dict[str, Any] = {}
    for key, value in (document or {}).items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            leaves.update(_leaves(value, f"{path}."))
        else:
            leaves[path] = value
    return leaves


def diff_documents(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> list[FieldChange]:
    """Field-by-field changes, sorted by path; mappings compared deeply, lists as values.

    ``None`` stands for "no document" (a new or removed client): every leaf changes.
    An absent field and a ``null`` one compare equal: both mean "not set".
    """
    before, after = _leaves(old), _leaves(new)
    return [
        FieldChange(path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    ]
