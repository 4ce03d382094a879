"""Read a SQLite schema into a ``SchemaSnapshot``.

Tables and indexes keep the ``CREATE`` text of ``sqlite_master`` (``create_sql`` and
``Index.definition``), which is what a restore replays; the structured fields come from
``pragma table_info``, ``index_list``, ``index_info`` and ``foreign_key_list``. SQLite
foreign keys have no names, so they are named ``<table>_fk<id>`` after their pragma id.
Counters are the rows of ``sqlite_sequence`` (tables declared AUTOINCREMENT), ``value`` the
last id handed out.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import defaultdict

from retention_pipeline.ports.source import (
    Column,
    ForeignKey,
    Index,
    SchemaObject,
    SchemaSnapshot,
    Sequence,
    Table,
    UniqueConstraint,
    UnsupportedObject,
    UnsupportedSchemaError,
    schema_object,
    sorted_snapshot,
)

_OBJECTS = """SELECT type, name, tbl_name, sql FROM sqlite_master
WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"""


# Every object of sqlite_master with a text of its own (the automatic indexes of UNIQUE
# and PRIMARY KEY clauses have none: they come back with their table), and the header
# fields an application keeps its own meaning in.
_INVENTORY = """SELECT type, name, sql FROM sqlite_master
WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"""
_HEADER_FIELDS = ("user_version", "application_id")


def read_inventory(conn: sqlite3.Connection) -> tuple[SchemaObject, ...]:
    """Tables, indexes, views and triggers by their ``CREATE`` text, and the header fields.

    SQLite keeps each object's ``CREATE`` statement as it was written (with the edits
    ``ALTER TABLE`` makes), so a restore that replays it gives the same text back.
    """
    objects = [schema_object(kind, name, sql) for kind, name, sql in conn.execute(_INVENTORY)]
    for pragma in _HEADER_FIELDS:
        (value,) = conn.execute(f"PRAGMA {pragma}").fetchone()
        objects.append(schema_object("pragma", pragma, str(value)))
    return tuple(sorted(objects))


def quote(name: str) -> str:
    """A SQLite identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def _index_columns(conn: sqlite3.Connection, index: str) -> tuple[str, ...]:
    rows = conn.execute(f"PRAGMA index_info({quote(index)})").fetchall()
    return tuple(name if name is not None else "<expression>" for _, _, name in rows)


# Views and triggers in the order they were created (sqlite_master's rowid), which is an
# order they can be created again in; a restore replays them after the rows.
_LATER_OBJECTS = """SELECT type, name, sql FROM sqlite_master
WHERE type IN ('view', 'trigger') AND sql IS NOT NULL ORDER BY rowid"""
OBJECTS = "sqlite-objects"  # the native field holding them, as JSON
HEADER = "sqlite-header"  # and the header fields, as JSON
_ROWID_NAMES = ("rowid", "_rowid_", "oid")
_WITHOUT_ROWID = re.compile(r"\)\s*(?:STRICT\s*,\s*)?WITHOUT\s+ROWID", re.IGNORECASE)


def native_parts(conn: sqlite3.Connection) -> dict[str, str]:
    """What a restore replays after the rows: views, triggers, header fields."""
    later = [list(row) for row in conn.execute(_LATER_OBJECTS)]
    header = {p: conn.execute(f"PRAGMA {p}").fetchone()[0] for p in _HEADER_FIELDS}
    return {OBJECTS: json.dumps(later), HEADER: json.dumps(header)}


def _rowid(sql: str | None, columns: tuple[Column, ...], pk: tuple[str, ...]) -> str | None:
    """The name to read a table's hidden row id by, where it has one apart from its columns."""
    if _WITHOUT_ROWID.search(sql or ""):
        return None
    types = {c.name: c.type.upper() for c in columns}
    if len(pk) == 1 and types.get(pk[0]) == "INTEGER":
        return None  # that column is the row id
    taken = {c.name.lower() for c in columns}
    return next((alias for alias in _ROWID_NAMES if alias not in taken), None)


def read_snapshot(conn: sqlite3.Connection, version: str) -> SchemaSnapshot:
    """The snapshot of the main database of ``conn``.

    Raises ``UnsupportedSchemaError`` naming every virtual table (full-text search,
    R*Tree): their shadow tables and module state cannot be recreated from rows.
    """
    objects = conn.execute(_OBJECTS).fetchall()
    virtual = sorted(
        name for kind, name, _, sql in objects if (sql or "").upper().startswith("CREATE VIRTUAL")
    )
    if virtual:
        raise UnsupportedSchemaError(
            "sqlite database file",
            [
                UnsupportedObject("virtual table", name, "a full-text or R*Tree module")
                for name in virtual
            ],
        )
    index_sql = {name: sql for kind, name, _, sql in objects if kind == "index"}
    tables, indexes = [], []
    for kind, name, _, sql in objects:
        if kind != "table":
            continue
        info = conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()
        columns = tuple(Column(r[1], r[2], not r[3], r[4]) for r in info)
        pk = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        uniques = []
        for _, index, unique, origin, _ in conn.execute(f"PRAGMA index_list({quote(name)})"):
            if origin == "u":
                uniques.append(UniqueConstraint(index, _index_columns(conn, index)))
            elif origin == "c":
                cols = _index_columns(conn, index)
                indexes.append(Index(index, name, cols, bool(unique), index_sql.get(index)))
        uniques.sort(key=lambda u: u.name)
        rowid = _rowid(sql, columns, pk)
        tables.append(Table(name, columns, pk, None, tuple(uniques), (), sql, rowid=rowid))
    primary_keys = {t.name: t.primary_key for t in tables}
    foreign_keys = [fk for t in tables for fk in _foreign_keys(conn, t.name, primary_keys)]
    sequences = _sequences(conn, primary_keys)
    return sorted_snapshot("sqlite", version, tables, indexes, foreign_keys, sequences)


def _foreign_keys(
    conn: sqlite3.Connection, table: str, primary_keys: dict[str, tuple[str, ...]]
) -> list[ForeignKey]:
    """The table's foreign keys, one per pragma id (a composite key spans several rows)."""
    grouped: dict[int, list[tuple[str, str | None, str, str]]] = defaultdict(list)
    for fk_id, _, ref, src, dst, _, on_delete, _ in conn.execute(
        f"PRAGMA foreign_key_list({quote(table)})"
    ):
        grouped[fk_id].append((src, dst, ref, on_delete))
    result = []
    for fk_id, parts in sorted(grouped.items()):
        ref_table, on_delete = parts[0][2], parts[0][3]
        # no target column written means "the referenced table's primary key"
        implied = primary_keys.get(ref_table, ())
        ref_columns = tuple(
            dst or (implied[i] if i < len(implied) else "?")
            for i, (_, dst, _, _) in enumerate(parts)
        )
        columns = tuple(src for src, _, _, _ in parts)
        result.append(
            ForeignKey(f"{table}_fk{fk_id}", table, columns, ref_table, ref_columns, on_delete)
        )
    return result


def _sequences(conn: sqlite3.Connection, pk_of: dict[str, tuple[str, ...]]) -> list[Sequence]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
    ).fetchone()
    if not exists:
        return []
    return [
        Sequence(name, int(seq), f"{name}.{pk_of[name][0]}" if pk_of.get(name) else None)
        for name, seq in conn.execute("SELECT name, seq FROM sqlite_sequence ORDER BY name")
    ]
