"""The manifest: the first member of every recovery point, describing all the others.

A recovery point must be self-describing (restorable with nothing but the object and
the client's key), and restore must refuse a backup that belongs to someone else, so the
manifest names its client and recovery point id, and carries for every table its row
count and content checksum, for every document its size and SHA-256, and (from format
version 2) the inventory of every schema object the database held: kind, name and the
digest of its definition, which a restore's verification compares with the target's.

The manifest lives *inside* the encryption: it may hold document paths and table names
that the client chose, which never leave the encrypted object.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from retention_pipeline.errors import RetentionError

FORMAT = "retention-pipeline/recovery-point"
FORMAT_VERSION = 2
# Version 1 manifests (no schema inventory) are still read: their restores verify rows only.
READABLE_VERSIONS = (1, 2)
MANIFEST_MEMBER = "manifest.json"
SCHEMA_MEMBER = "schema.json"


class ManifestError(RetentionError):
    """A manifest that is missing, malformed, of an unknown version, or for another backup."""


@dataclass(frozen=True)
class TableEntry:
    """One table: its data members, in order, and what their concatenation must hash to."""

    name: str
    rows: int
    sha256: str
    data_format: str
    members: tuple[str, ...]
    size: int


@dataclass(frozen=True)
class DocumentEntry:
    """One document file: its path relative to the client's documents folder."""

    path: str
    member: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectEntry:
    """One schema object of the inventory: kind, qualified name, SHA-256 of its definition."""

    kind: str
    name: str
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """Everything needed to restore and verify one recovery point."""

    client: str
    recovery_point: str
    created_at: str
    engine: str | None
    server_version: str | None
    tool_version: str
    schema_sha256: str | None
    tables: tuple[TableEntry, ...] = ()
    documents: tuple[DocumentEntry, ...] = ()
    objects: tuple[ObjectEntry, ...] = ()
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records_inventory(self) -> bool:
        """Whether this manifest's format carries the schema inventory (version 2 on)."""
        return self.format_version >= 2

    @property
    def total_rows(self) -> int:
        """Rows over all tables, for summaries."""
        return sum(t.rows for t in self.tables)

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, UTF-8), so the same manifest hashes the same.

        A document path read from a file name that is not UTF-8 holds its stray bytes as
        lone surrogates (Python's ``surrogateescape``); UTF-8 cannot encode those, so they
        are written as JSON escapes (``\\udcff``), which parse back to the same string
        and so restore the same name byte for byte.
        """
        data = asdict(self)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8", "backslashreplace")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        """Parse and check a manifest; any defect raises ``ManifestError``."""
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ManifestError(
                    f"not a recovery point manifest (format {data.get('format')!r})"
                )
            if data.get("format_version") not in READABLE_VERSIONS:
                raise ManifestError(
                    f"manifest format version {data.get('format_version')!r} is not supported "
                    f"(this tool reads versions {', '.join(map(str, READABLE_VERSIONS))}); use a "
                    "newer retention-pipeline"
                )
            tables = tuple(
                TableEntry(**{**t, "members": tuple(t["members"])}) for t in data.pop("tables")
            )
            documents = tuple(DocumentEntry(**d) for d in data.pop("documents"))
            objects = tuple(ObjectEntry(**o) for o in data.pop("objects", ()))
            return cls(tables=tables, documents=documents, objects=objects, **data)
        except ManifestError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ManifestError(f"malformed manifest ({type(exc).__name__})") from None

    def check_identity(self, client: str, recovery_point: str) -> None:
        """Refuse a manifest naming another client or recovery point than the catalog row.

        This is what stops a backup of one client from being restored as another's,
        whether by mistake or by an attacker swapping objects in a bucket.
        """
        if self.client != client or self.recovery_point != recovery_point:
            raise ManifestError(
                f"recovery point {recovery_point} of client {client}: the object's manifest "
                f"names recovery point {self.recovery_point} of client {self.client}; "
                "refusing to use it (the stored object was swapped or misfiled)"
            )
