"""An erasure request's memory across attempts, kept as JSON in the request's ``details``.

Why it exists: an erasure can be interrupted after part of the deletions. The next
attempt no longer sees what the first one deleted, yet the certificate must cover it.
So each attempt merges the entries it found into this record *before* deleting, and the
certificate is built from the union. Layout (ids, counts and digests only, no data)::

    {"attempts": [{"started_at", "actor", "airflow_run_id"}, ...],
     "contract_reference": str | null, "legal_basis": str | null,
     "entries": {store: [[key, version, sha256, size, marker, known, locked_until], ...]},
     "locations": {store: region},
     "residual": {store: [same rows]},   # still locked after the last attempt
     "key_destruction": {...} | null,     # predicate JSON of the key's end
     "uploads_aborted": int, "certificates": [certificate ids], "failure": str | null}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from retention_pipeline.domain.erasure import Entry
from retention_pipeline.envelope.certificate_predicate import (
    KeyDestructionInfo,
    Verification,
    format_time,
    parse_time,
)


class ErasureRecord:
    """Read and update an erasure request's ``details`` (see the module docstring)."""

    def __init__(self, details: Mapping[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = copy.deepcopy(dict(details or {}))
        for name, empty in (("attempts", []), ("entries", {}), ("locations", {}),
                            ("residual", {}), ("certificates", [])):  # fmt: skip
            self.data.setdefault(name, empty)

    def start_attempt(self, at: datetime, actor: str, airflow_run_id: str | None) -> None:
        """Note an attempt (who, when, which Airflow run), clearing the last failure."""
        self.data["attempts"].append(
            {"started_at": format_time(at), "actor": actor, "airflow_run_id": airflow_run_id}
        )
        self.data["failure"] = None

    def keep_order_form(self, contract_reference: str | None, legal_basis: str | None) -> None:
        """Remember what the certificate states of the order form, before it is scrubbed."""
        self.data.setdefault("contract_reference", contract_reference)
        self.data.setdefault("legal_basis", legal_basis)

    def merge(self, entries: Iterable[Entry], locations: Mapping[str, str]) -> None:
        """Add entries found by this attempt; an entry seen again takes its new lock date."""
        rows: dict[str, dict[tuple[str, str], list[Any]]] = {
            store: {(r[0], r[1]): r for r in items} for store, items in self.data["entries"].items()
        }
        for entry in entries:
            rows.setdefault(entry.store, {})[(entry.key, entry.version_id)] = entry.to_row()
        self.data["entries"] = {store: sorted(items.values()) for store, items in rows.items()}
        self.data["locations"] = {**self.data["locations"], **locations}

    def entries(self) -> list[Entry]:
        """Every entry found across attempts."""
        return [
            Entry.from_row(store, row)
            for store, rows in sorted(self.data["entries"].items())
            for row in rows
        ]

    def set_residual(self, entries: Iterable[Entry]) -> None:
        """The entries still locked in place (crypto-erased) after this attempt."""
        residual: dict[str, list[list[Any]]] = {}
        for entry in entries:
            residual.setdefault(entry.store, []).append(entry.to_row())
        self.data["residual"] = {store: sorted(rows) for store, rows in residual.items()}

    def residual(self) -> list[Entry]:
        """Entries still locked in place after the last attempt."""
        return [
            Entry.from_row(store, row)
            for store, rows in sorted(self.data["residual"].items())
            for row in rows
        ]

    def deleted(self) -> list[Entry]:
        """Every entry found across attempts that is not residual: each must be gone."""
        left = {entry.ident for entry in self.residual()}
        return [entry for entry in self.entries() if entry.ident not in left]

    @property
    def locations(self) -> dict[str, str]:
        """Store -> region of every store the certificate lists."""
        return dict(self.data["locations"])

    def set_key_destruction(self, info: Mapping[str, Any]) -> None:
        """Keep the key destruction's predicate JSON (the first one wins: it is the real one)."""
        self.data.setdefault("key_destruction", None)
        if self.data["key_destruction"] is None:
            self.data["key_destruction"] = dict(info)

    def key_destruction(self) -> KeyDestructionInfo | None:
        """The stored key destruction, or ``None`` before the key was destroyed."""
        info = self.data.get("key_destruction")
        if info is None:
            return None
        deletion = info["deletion_date"]
        return KeyDestructionInfo(
            key_fingerprint=info["key_fingerprint"],
            custody=info["custody"],
            kek_id=info["kek_id"],
            method=info["method"],
            destroyed_at=parse_time(info["destroyed_at"], "destroyed_at"),
            deletion_date=parse_time(deletion, "deletion_date") if deletion else None,
            verification=Verification(**info["verification"]),
        )

    def add_certificate(self, certificate_id: str) -> None:
        """Note a certificate issued for this request (the newest supersedes the rest)."""
        self.data["certificates"].append(certificate_id)

    @property
    def last_certificate(self) -> str | None:
        """The newest certificate of this request, if any."""
        certificates: list[str] = self.data["certificates"]
        return certificates[-1] if certificates else None

    def fail(self, reason: str) -> None:
        """Record why the attempt failed (counts, store names, keys: opaque)."""
        self.data["failure"] = reason

    def to_details(self) -> dict[str, Any]:
        """The JSON to store back."""
        return copy.deepcopy(self.data)


def key_destruction_json(info: KeyDestructionInfo) -> dict[str, Any]:
    """The certificate's JSON spelling of a key destruction, to keep in the record."""
    deletion = info.deletion_date
    return {
        "key_fingerprint": info.key_fingerprint,
        "custody": info.custody,
        "kek_id": info.kek_id,
        "method": info.method,
        "destroyed_at": format_time(info.destroyed_at),
        "deletion_date": format_time(deletion) if deletion else None,
        "verification": {
            "method": info.verification.method,
            "result": info.verification.result,
        },
    }
