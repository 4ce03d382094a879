"""Read a MariaDB/MySQL schema into a ``SchemaSnapshot``.

The structured parts (columns, keys, indexes, foreign keys, checks) come from
``information_schema``, so snapshots compare field by field. Restore replays the server's
own ``SHOW CREATE TABLE`` text, with two edits made here: foreign-key clauses are taken out
(they are added back after the data, so tables load in any order) and the ``AUTO_INCREMENT=N``
option is taken out (it is a counter value, restored by ``set_sequences`` from the snapshot's
``sequences``, one per table with an AUTO_INCREMENT column, ``value`` = the next id).
"""

from __future__ import annotations

import re
from typing import Any

from retention_pipeline.ports.source import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    SchemaSnapshot,
    Sequence,
    Table,
    UniqueConstraint,
    UnsupportedObject,
    UnsupportedSchemaError,
    sorted_snapshot,
)

_TABLES = """SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME"""

# Tables the dump would skip: system-versioned ones (their history rows too) and
# sequences (a table's default would then name the source's sequence).
_UNREAD_TABLES = """SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('SYSTEM VERSIONED', 'SEQUENCE')
ORDER BY TABLE_NAME"""

_COLUMNS = """SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA,
       CHARACTER_SET_NAME
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, ORDINAL_POSITION"""

# Character sets whose every stored string survives the trip through utf8mb4 (the session
# reads and writes text as UTF-8): the Unicode ones, ASCII, and latin1 (MariaDB's latin1
# maps all 256 bytes). In sjis, cp932, ujis, big5, cp1251 and others some byte strings
# come back as other bytes or as '?', so their columns are refused.
_SAFE_CHARSETS = frozenset(
    {"utf8mb4", "utf8mb3", "utf8", "utf16", "utf16le", "utf32", "ucs2", "ascii", "latin1", "binary"}
)

_KEYS = """SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, rc.DELETE_RULE
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.KEY_COLUMN_USAGE k ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA
     AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS rc
     ON rc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND rc.TABLE_NAME = tc.TABLE_NAME
     AND rc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.CONSTRAINT_SCHEMA = DATABASE()
  AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION"""

_CHECKS = """SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = DATABASE() ORDER BY TABLE_NAME, CONSTRAINT_NAME"""

_INDEXES = """SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"""

_PARTITIONED = """SELECT DISTINCT TABLE_NAME FROM information_schema.PARTITIONS
WHERE TABLE_SCHEMA = DATABASE() AND PARTITION_NAME IS NOT NULL ORDER BY TABLE_NAME"""

# Spatial values arrive as the server's internal bytes, which an INSERT does not take back.
_SPATIAL = frozenset(
    {
        "geometry",
        "point",
        "linestring",
        "polygon",
        "multipoint",
        "multilinestring",
        "multipolygon",
        "geometrycollection",
    }
)

_FK_LINE = re.compile(r"^\s*CONSTRAINT `(?:[^`]|``)+` FOREIGN KEY .*?,?$")
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=(\d+)")


def quote(name: str) -> str:
    """A MariaDB identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def split_create_table(create: str) -> tuple[str, list[str], int | None]:
    """``SHOW CREATE TABLE`` text -> (text without FKs nor AUTO_INCREMENT, FK clauses, counter)."""
    lines = create.split("\n")
    head, body, tail = lines[0], lines[1:-1], lines[-1]
    kept = [line.rstrip(",") for line in body if not _FK_LINE.match(line)]
    fks = [line.strip().rstrip(",") for line in body if _FK_LINE.match(line)]
    # table options come before any quoted one (COMMENT='...'): a comment that mentions
    # AUTO_INCREMENT=N is text, not the counter
    options, quote_mark, quoted = tail.partition("'")
    counter = _AUTO_INCREMENT.search(options)
    tail = _AUTO_INCREMENT.sub("", options) + quote_mark + quoted
    text = "\n".join([head, ",\n".join(kept), tail])
    return text, fks, int(counter.group(1)) if counter else None


def read_snapshot(cur: Any, version: str) -> SchemaSnapshot:
    """The snapshot of the connection's current database, read with cursor ``cur``."""
    refused: list[UnsupportedObject] = []
    cur.execute(_PARTITIONED)
    refused += [
        UnsupportedObject("partitioned table", row[0], "its partitioning is not carried yet")
        for row in cur.fetchall()
    ]
    cur.execute(_UNREAD_TABLES)
    for table, kind in cur.fetchall():
        what = "sequence" if kind == "SEQUENCE" else "system-versioned table"
        refused.append(UnsupportedObject(what, table, "not carried yet"))
    cur.execute(_TABLES)
    names = [row[0] for row in cur.fetchall()]
    columns: dict[str, list[Column]] = {name: [] for name in names}
    counted: dict[str, str] = {}
    cur.execute(_COLUMNS)
    for table, name, type_, nullable, default, extra, charset in cur.fetchall():
        if table not in columns:
            continue  # a view's column
        where = f"{table}.{name}"
        if any(mark in table + name for mark in "\r\n"):
            refused.append(
                UnsupportedObject(
                    "column", where.replace("\n", " "), "its name holds a line break; rename it"
                )
            )
        if charset is not None and charset.lower() not in _SAFE_CHARSETS:
            refused.append(
                UnsupportedObject(
                    "column",
                    where,
                    f"character set {charset} does not survive UTF-8 byte for byte; "
                    "convert it to utf8mb4",
                )
            )
        if type_.lower().split("(")[0] in _SPATIAL:
            refused.append(UnsupportedObject("column", where, f"spatial type {type_}"))
        if "GENERATED" in (extra or "").upper():
            continue  # computed again by the target from its CREATE TABLE text
        if "auto_increment" in (extra or "").lower():
            counted[table] = name
        columns[table].append(Column(name, type_, nullable == "YES", default))
    if refused:
        raise UnsupportedSchemaError("mariadb database", refused)
    keys: dict[tuple[str, str], dict[str, Any]] = {}
    cur.execute(_KEYS)
    for table, name, kind, column, ref_table, ref_column, on_delete in cur.fetchall():
        entry = keys.setdefault(
            (table, name),
            {"kind": kind, "cols": [], "ref": ref_table, "refs": [], "del": on_delete},
        )
        entry["cols"].append(column)
        if ref_column:
            entry["refs"].append(ref_column)
    checks: dict[str, list[CheckConstraint]] = {name: [] for name in names}
    cur.execute(_CHECKS)
    for table, name, clause in cur.fetchall():
        if table in checks:
            checks[table].append(CheckConstraint(name, clause))
    tables, fks, sequences = [], [], []
    for name in names:
        cur.execute(f"SHOW CREATE TABLE {quote(name)}")
        create_sql, fk_lines, counter = split_create_table(cur.fetchone()[1])
        fk_text = {line.split("`")[1]: line for line in fk_lines}
        pk = keys.get((name, "PRIMARY"), {}).get("cols", [])
        uniques = [
            UniqueConstraint(key_name, tuple(e["cols"]))
            for (table, key_name), e in keys.items()
            if table == name and e["kind"] == "UNIQUE"
        ]
        for (table, key_name), e in keys.items():
            if table == name and e["kind"] == "FOREIGN KEY":
                fks.append(
                    ForeignKey(
                        key_name,
                        name,
                        tuple(e["cols"]),
                        e["ref"],
                        tuple(e["refs"]),
                        e["del"],
                        fk_text.get(key_name),
                    )
                )
        tables.append(
            Table(
                name=name,
                columns=tuple(columns[name]),
                primary_key=tuple(pk),
                primary_key_name="PRIMARY" if pk else None,
                uniques=tuple(uniques),
                checks=tuple(checks[name]),
                create_sql=create_sql,
            )
        )
        if name in counted:
            sequences.append(Sequence(name, counter or 1, f"{name}.{counted[name]}"))
    unique_names = {(t, n) for (t, n), e in keys.items() if e["kind"] != "FOREIGN KEY"}
    return sorted_snapshot("mariadb", version, tables, _indexes(cur, unique_names), fks, sequences)


def _indexes(cur: Any, constraint_names: set[tuple[str, str]]) -> list[Index]:
    """Indexes that do not back a primary key or unique constraint."""
    found: dict[tuple[str, str], tuple[bool, list[str]]] = {}
    cur.execute(_INDEXES)
    for table, name, non_unique, column in cur.fetchall():
        if (table, name) not in constraint_names:
            found.setdefault((table, name), (not int(non_unique), []))[1].append(column)
    return [Index(n, t, tuple(cols), unique) for (t, n), (unique, cols) in found.items()]
