"""Read a PostgreSQL schema from ``pg_catalog`` into a ``SchemaSnapshot``.

The snapshot's structured part says which tables hold rows and how to read them in
order (columns, primary key); the DDL a restore replays is ``pg_dump``'s
(``pg_tools``), carried beside it. Types come from ``format_type``, defaults from
``pg_get_expr``, constraints from ``pg_get_constraintdef`` and indexes from
``pg_get_indexdef``: the server's own text, which the snapshots written before the
``pg_dump`` archive was carried are still restored from. What a backup cannot carry is
refused when the schema is read, all of it at once (``unsupported``).
"""

from __future__ import annotations

from typing import Any

import psycopg

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

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname"""

# Tables whose rows the dump would leave out: those of any schema but ours (and the
# system's), except the partitions of our partitioned tables wherever they live.
_TABLES_ELSEWHERE = """
SELECT DISTINCT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname <> %s
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass
                  AND e.objid = c.oid AND e.deptype = 'e')
ORDER BY 1"""

_FOREIGN_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'f' ORDER BY 1"""

_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       quote_ident(co.collname)
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum"""

_NO_COLUMNS = """
SELECT c.relname FROM pg_class c WHERE c.oid = ANY(%s) AND NOT EXISTS (
    SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
      AND NOT a.attisdropped AND a.attgenerated = '')
ORDER BY 1"""

_KEYS = """ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(num, pos)
      JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.num ORDER BY k.pos)"""

_CONSTRAINTS = f"""
SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid),
       {_KEYS.format(keys="con.conkey", rel="con.conrelid")},
       (SELECT relname FROM pg_class WHERE oid = con.confrelid),
       {_KEYS.format(keys="con.confkey", rel="con.confrelid")},
       con.confdeltype
FROM pg_constraint con
WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'c', 'f', 'x')
ORDER BY con.conrelid, con.conname"""

_INDEXES = """
SELECT ic.relname, t.relname, i.indisunique, pg_get_indexdef(i.indexrelid),
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnkeyatts) k ORDER BY k)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
WHERE i.indrelid = ANY(%s) AND NOT EXISTS (
    SELECT 1 FROM pg_constraint con
    WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))"""

_SEQUENCES = """
SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
       s.seqmax, s.seqcache, s.seqcycle, dep.relname, dep.attname, dep.deptype
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
LEFT JOIN LATERAL (
    SELECT t.relname, a.attname, d.deptype FROM pg_depend d
    JOIN pg_class t ON t.oid = d.refobjid
    JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    LIMIT 1) dep ON true
WHERE n.nspname = %s AND c.relkind = 'S' ORDER BY c.relname"""

_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_IDENTITY = {"a": "ALWAYS", "d": "BY DEFAULT"}


def unsupported(conn: psycopg.Connection[Any], schema: str) -> list[UnsupportedObject]:
    """What a backup of ``schema`` could not carry, every object of it (none: all is).

    pg_dump carries every object of the schema; what remains is data outside it: tables
    of other schemas, a foreign table's rows (they live on another server), large
    objects (``pg_largeobject`` belongs to no schema) and rows of a table without a
    column, which COPY cannot write.
    """
    found = [
        UnsupportedObject("schema", name, f"holds tables, and only schema {schema} is backed up")
        for (name,) in conn.execute(_TABLES_ELSEWHERE, (schema,))
    ]
    found += [
        UnsupportedObject("foreign table", f"{schema}.{name}", "its rows live on another server")
        for (name,) in conn.execute(_FOREIGN_TABLES, (schema,))
    ]
    row = conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    if row and row[0]:
        found.append(
            UnsupportedObject(
                "large objects",
                f"{row[0]} large object(s) of the database",
                "they belong to no schema; keep such content in bytea columns",
            )
        )
    return found


def _table_names(conn: psycopg.Connection[Any], query: str, oids: list[int]) -> list[str]:
    """The table names a one-column check query finds among ``oids``."""
    return [name for (name,) in conn.execute(query, (oids,)).fetchall()]


def read_snapshot(conn: psycopg.Connection[Any], schema: str, version: str) -> SchemaSnapshot:
    """The snapshot of ``schema``, read inside the caller's (snapshot) transaction.

    Raises ``UnsupportedSchemaError`` listing everything ``unsupported`` found. The tables
    are the ones holding rows (``relkind = 'r'``): leaf partitions, inheritance parents
    and children (each dumped alone, ``FROM ONLY``), unlogged tables; a partitioned
    table's rows are its partitions'. Generated columns are left out of the rows: the
    target computes them again.
    """
    tables = dict(conn.execute(_TABLES, (schema,)).fetchall())
    oids = list(tables)
    refused = unsupported(conn, schema) + [
        UnsupportedObject("table", f"{schema}.{name}", "it has no column, so COPY cannot carry it")
        for name in _table_names(conn, _NO_COLUMNS, oids)
    ]
    if refused:
        raise UnsupportedSchemaError(f"schema {schema}", refused)
    columns: dict[int, list[Column]] = {oid: [] for oid in oids}
    for row in conn.execute(_COLUMNS, (oids,)):
        rel, name, type_, notnull, default, identity, generated, collation = row
        if generated:
            continue
        if collation is not None:
            type_ = f"{type_} COLLATE {collation}"
        columns[rel].append(Column(name, type_, not notnull, default, _IDENTITY.get(identity)))
    keyed: dict[int, dict[str, Any]] = {}  # a table's primary key fields, where it has one
    uniques: dict[int, list[UniqueConstraint]] = {oid: [] for oid in oids}
    checks: dict[int, list[CheckConstraint]] = {oid: [] for oid in oids}
    fks = []
    for rel, name, kind, definition, keys, ref, ref_keys, on_delete in conn.execute(
        _CONSTRAINTS, (oids,)
    ):
        if kind == "p":
            keyed[rel] = {
                "primary_key": tuple(keys),
                "primary_key_name": name,
                "primary_key_definition": definition,
            }
        elif kind == "u":
            uniques[rel].append(UniqueConstraint(name, tuple(keys), definition))
        elif kind == "f":
            fks.append(
                ForeignKey(
                    name,
                    tables[rel],
                    tuple(keys),
                    ref,
                    tuple(ref_keys),
                    _ON_DELETE[on_delete],
                    definition,
                )
            )
        else:
            checks[rel].append(CheckConstraint(name, definition))
    table_list = [
        Table(
            name=tables[oid],
            columns=tuple(columns[oid]),
            uniques=tuple(uniques[oid]),
            checks=tuple(checks[oid]),
            **keyed.get(oid, {}),
        )
        for oid in oids
    ]
    indexes = [
        Index(name, table, tuple(cols), unique, definition)
        for name, table, unique, definition, cols in conn.execute(_INDEXES, (oids,))
    ]
    return sorted_snapshot(
        "postgresql", version, table_list, indexes, fks, read_sequences(conn, schema)
    )


def read_sequences(conn: psycopg.Connection[Any], schema: str) -> list[Sequence]:
    """Every sequence of ``schema`` with its options, owner and current value."""
    sequences = []
    for row in conn.execute(_SEQUENCES, (schema,)).fetchall():
        name, data_type, start, step, low, high, cache, cycle, table, column, dep = row
        value_query = psycopg.sql.SQL("SELECT last_value, is_called FROM {}").format(
            psycopg.sql.Identifier(schema, name)
        )
        found = conn.execute(value_query).fetchone()
        assert found is not None  # a sequence relation always has exactly one row
        definition = (
            f"INCREMENT BY {step} MINVALUE {low} MAXVALUE {high} START WITH {start} "
            f"CACHE {cache} {'CYCLE' if cycle else 'NO CYCLE'}"
        )
        sequences.append(
            Sequence(
                name=name,
                value=found[0],
                owned_by=f"{table}.{column}" if table else None,
                is_called=found[1],
                data_type=data_type if dep != "i" else None,
                definition=definition,
            )
        )
    return sequences
