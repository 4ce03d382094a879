"""Backup and restore through the port only, the way the packaging service drives it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from retention_pipeline.adapters.dumpers import open_dumper, open_loader
from retention_pipeline.ports.source import SchemaSnapshot, TableDigest, TableDump


def dump_all(url: str) -> tuple[SchemaSnapshot, dict[str, bytes], list[TableDump]]:
    """Snapshot, every table's dump bytes, and their digests."""
    with open_dumper(url) as dumper:
        snapshot = dumper.schema()
        data, digests = {}, []
        for table in snapshot.tables:
            digest = TableDigest(table.name, dumper.dump_table(table), dumper.data_format)
            data[table.name] = b"".join(digest)
            digests.append(digest.result())
    return snapshot, data, digests


def split(data: bytes, size: int) -> Iterable[bytes]:
    """Chunks of ``size`` bytes that cut rows, escapes and UTF-8 sequences anywhere."""
    return (data[i : i + size] for i in range(0, len(data), size))


def restore(url: str, snapshot: SchemaSnapshot, data: dict[str, bytes], chunk: int = 65536) -> None:
    """Tables, data, every later phase, counters, objects: the documented restore order."""
    with open_loader(url) as loader:
        loader.create_schema(snapshot, phase="tables")
        for table in snapshot.tables:
            loader.load_table(table, split(data[table.name], chunk))
        for phase in ("keys", "indexes", "constraints"):
            loader.create_schema(snapshot, phase=phase)
        loader.set_sequences(snapshot)
        loader.create_schema(snapshot, phase="objects")


def structure(snapshot: SchemaSnapshot) -> SchemaSnapshot:
    """The snapshot without the engine tool's archive (it holds the dump's time and name)."""
    return dataclasses.replace(snapshot, native={})
