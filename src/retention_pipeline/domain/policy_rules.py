"""Rules of the order form that involve more than one field.

They read the raw document (as parsed from YAML, or as dumped by a model) and tolerate
values of the wrong type: a field that is itself broken is reported by its own type, and
a rule that cannot evaluate simply stays silent. So one run reports every problem.

Rules, each with its reason:

- an active backup (automated or semi_manual) needs a store, a ``max_age`` and something
  to back up; an automated one also needs a schedule;
- an enabled archive needs a period (``every``), a store and a ``max_age``; it must not
  use the backup store (archives exist to survive the loss of the backup support);
- ``min_age`` never exceeds ``max_age`` (the order form would contradict itself);
- a compliance lock cannot be shortened by anyone, so it may not outlast ``max_age``:
  the data could not be erased when the order form says it must be;
- data that is processed needs a legal basis, and someone able to decrypt it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from retention_pipeline.domain.documents import FieldPath
from retention_pipeline.domain.durations import format_duration, parse_duration

ACTIVE_MODES = ("automated", "semi_manual")


@dataclass(frozen=True)
class Finding:
    """A broken rule: where, what is wrong, what to do, and the value to show (if any)."""

    path: FieldPath
    message: str
    hint: str
    value: tuple[object, ...] = ()


def _get(doc: object, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _duration(value: object) -> timedelta | None:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value) if isinstance(value, str) else None
    except ValueError:
        return None


def backup_active(doc: Mapping[str, Any]) -> bool:
    """Whether the document subscribes to backups (mode automated or semi_manual)."""
    return _get(doc, "backup", "mode") in ACTIVE_MODES


def archive_active(doc: Mapping[str, Any]) -> bool:
    """Whether the document subscribes to archives (``archive.enabled: true``)."""
    return _get(doc, "archive", "enabled") is True


def _ages(doc: Mapping[str, Any], section: str) -> list[Finding]:
    max_age = _duration(_get(doc, section, "retention", "max_age"))
    min_age = _duration(_get(doc, section, "retention", "min_age"))
    if max_age is None or min_age is None or min_age <= max_age:
        return []
    return [
        Finding(
            (section, "retention", "min_age"),
            f"is longer than max_age {format_duration(max_age)}",
            "make min_age at most max_age, or raise max_age",
            (format_duration(min_age),),
        )
    ]


def _backup(doc: Mapping[str, Any]) -> list[Finding]:
    findings = _ages(doc, "backup")
    mode = _get(doc, "backup", "mode")
    if not backup_active(doc):
        return findings
    when = f"is required when backup.mode is {mode}"
    if mode == "automated" and not _get(doc, "backup", "schedule"):
        hint = 'add a UTC cron, like schedule: "0 2 * * *", or use mode: semi_manual'
        findings.append(Finding(("backup", "schedule"), when, hint))
    if not _get(doc, "backup", "storage"):
        hint = "name the store that keeps the backups (a store of retention.yaml)"
        findings.append(Finding(("backup", "storage"), when, hint))
    if _get(doc, "backup", "retention", "max_age") is None:
        hint = "say how long each backup is kept, like max_age: 35d"
        findings.append(Finding(("backup", "retention", "max_age"), when, hint))
    if not _get(doc, "source", "database") and not _get(doc, "source", "documents"):
        hint = "add source.database.connection and/or source.documents.path"
        findings.append(Finding(("source",), "names nothing to back up", hint))
    return findings


def _archive(doc: Mapping[str, Any]) -> list[Finding]:
    findings = _ages(doc, "archive")
    storage = _get(doc, "archive", "storage")
    if storage and storage == _get(doc, "backup", "storage"):
        hint = "archives must survive the loss of the backup store: name another store"
        findings.append(Finding(("archive", "storage"), "is the backup store", hint, (storage,)))
    max_age = _duration(_get(doc, "archive", "retention", "max_age"))
    days = _get(doc, "archive", "lock", "days")
    compliance = _get(doc, "archive", "lock", "mode") == "compliance"
    if compliance and max_age is not None and isinstance(days, int) and days > max_age.days:
        findings.append(
            Finding(
                ("archive", "lock", "days"),
                f"a compliance lock outlasts archive.retention.max_age {format_duration(max_age)}",
                f"lower days to at most {max_age.days} (nobody can shorten a compliance lock)",
                (days,),
            )
        )
    if not archive_active(doc):
        return findings
    when = "is required when the archive is enabled"
    required = {
        ("archive", "every"): "use daily, weekly, monthly or yearly",
        ("archive", "storage"): "name the archive store (a store of retention.yaml)",
        ("archive", "retention", "max_age"): "say how long archives are kept, like 10y",
    }
    for path, hint in required.items():
        if _get(doc, *path) is None:
            findings.append(Finding(path, when, hint))
    return findings


def _processing(doc: Mapping[str, Any]) -> list[Finding]:
    if not (backup_active(doc) or archive_active(doc)):
        return []
    findings = []
    if not _get(doc, "legal_basis"):
        hint = "state the order form's legal basis, usually legal_basis: contract"
        findings.append(Finding(("legal_basis",), "is required when data is processed", hint))
    nobody = _get(doc, "protection", "hoster_can_decrypt") is False
    if nobody and not _get(doc, "protection", "client_recipients"):
        findings.append(
            Finding(
                ("protection", "client_recipients"),
                "is empty and hoster_can_decrypt is false: nobody could decrypt",
                "add the client's age recipient, or set hoster_can_decrypt: true",
            )
        )
    return findings


def policy_findings(doc: Mapping[str, Any]) -> list[Finding]:
    """Every cross-field rule the document breaks, in document order."""
    return [*_backup(doc), *_archive(doc), *_processing(doc)]
