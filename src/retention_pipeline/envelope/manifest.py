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
        """Parse and check a manifest; any defect raises ``ManifestError``.

        Every field must have its documented JSON type (a forged manifest with a string
        where a count goes would otherwise fail later, far from here, with a TypeError),
        and JSON nested too deep to parse is a defect like any other.
        """
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ManifestError("malformed manifest (JSON nested too deep)") from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError among them
            raise ManifestError(f"malformed manifest ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise ManifestError("malformed manifest (not a JSON object)")
        if data.get("format") != FORMAT:
            raise ManifestError("not a recovery point manifest (its format field differs)")
        version = data.get("format_version")
        if type(version) is not int:  # JSON true is no version either
            raise ManifestError("malformed manifest (field format_version is not an integer)")
        if version not in READABLE_VERSIONS:
            raise ManifestError(
                f"manifest format version {version} is not supported "
                f"(this tool reads versions {', '.join(map(str, READABLE_VERSIONS))}); use a "
                "newer retention-pipeline"
            )
        _check_fields("", data, _MANIFEST_FIELDS, optional=("objects", "extra"))
        tables = tuple(
            TableEntry(**_checked(f"tables[{i}]", t, _TABLE_FIELDS, "members"))
            for i, t in enumerate(data.pop("tables"))
        )
        documents = tuple(
            DocumentEntry(**_checked(f"documents[{i}]", d, _DOCUMENT_FIELDS))
            for i, d in enumerate(data.pop("documents"))
        )
        objects = tuple(
            ObjectEntry(**_checked(f"objects[{i}]", o, _OBJECT_FIELDS))
            for i, o in enumerate(data.pop("objects", ()))
        )
        return cls(tables=tables, documents=documents, objects=objects, **data)

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


# The JSON type of every field, as ``to_bytes`` writes it (``None`` where null is allowed).
_Spec = dict[str, tuple[type, ...]]
_TEXT, _COUNT, _LIST = (str,), (int,), (list,)
_MAYBE_TEXT = (str, type(None))
_MANIFEST_FIELDS: _Spec = {
    "client": _TEXT,
    "recovery_point": _TEXT,
    "created_at": _TEXT,
    "engine": _MAYBE_TEXT,
    "server_version": _MAYBE_TEXT,
    "tool_version": _TEXT,
    "schema_sha256": _MAYBE_TEXT,
    "tables": _LIST,
    "documents": _LIST,
    "objects": _LIST,
    "format": _TEXT,
    "format_version": _COUNT,
    "extra": (dict,),
}
_TABLE_FIELDS: _Spec = {
    "name": _TEXT,
    "rows": _COUNT,
    "sha256": _TEXT,
    "data_format": _TEXT,
    "members": _LIST,
    "size": _COUNT,
}
_DOCUMENT_FIELDS: _Spec = {"path": _TEXT, "member": _TEXT, "size": _COUNT, "sha256": _TEXT}
_OBJECT_FIELDS: _Spec = {"kind": _TEXT, "name": _TEXT, "sha256": _TEXT}


def _check_fields(where: str, data: Any, spec: _Spec, optional: tuple[str, ...] = ()) -> None:
    """Refuse a missing, unknown or mistyped field; the message names it, never its value.

    Counts must be non-negative integers (JSON ``true`` is not one), and no text may hold
    a NUL character, which no file or table name can.
    """
    if not isinstance(data, dict):
        raise ManifestError(f"malformed manifest ({where} is not a JSON object)")
    prefix = f"{where}." if where else ""
    unknown = sorted(set(data) - set(spec))
    missing = [name for name in spec if name not in data and name not in optional]
    if unknown or missing:
        field_name = (unknown or missing)[0]
        what = "unknown field" if unknown else "missing field"
        raise ManifestError(f"malformed manifest ({what} {prefix}{field_name})")
    for name, value in data.items():
        kinds = spec[name]
        if kinds == _COUNT:
            good = type(value) is int and value >= 0
        else:
            good = isinstance(value, kinds) and not (isinstance(value, str) and "\0" in value)
        if not good:
            raise ManifestError(f"malformed manifest (field {prefix}{name} is not {_KIND[kinds]})")


_KIND = {
    _TEXT: "a string",
    _MAYBE_TEXT: "a string or null",
    _COUNT: "a non-negative integer",
    _LIST: "a list",
    (dict,): "an object",
}


def _checked(where: str, data: Any, spec: _Spec, names: str | None = None) -> dict[str, Any]:
    """``data`` checked against ``spec``, with its list of names (if any) as a tuple."""
    _check_fields(where, data, spec)
    if names is None:
        return dict(data)
    listed = data[names]
    if not all(isinstance(name, str) and "\0" not in name for name in listed):
        raise ManifestError(f"malformed manifest (field {where}.{names} holds a non-string)")
    return {**data, names: tuple(listed)}
