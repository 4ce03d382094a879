"""Read a PostgreSQL schema from ``pg_catalog`` into a ``SchemaSnapshot``.

Types come from ``format_type``, defaults from ``pg_get_expr``, constraints from
``pg_get_constraintdef`` and indexes from ``pg_get_indexdef``: the server's own DDL text,
which replays exactly on a server of the same major version. Only ordinary tables of one
schema (``public`` by default) are read; views, partitioned tables, generated columns,
functions and triggers are not part of a CRM dump yet. What would make a backup silently
incomplete or impossible to restore is refused when the schema is read, before anything
is stored: a generated column (it would come back as a plain one), a table in another
schema, a partitioned table or table inheritance (rows would be missing or counted
twice), a column whose type or collation this database defines itself (an enum, a domain,
an extension's type, a created collation), a default, check or index that calls a
function this database defines or uses an extension's operator class (the restore could
not create the table or index), row-level security (the restore would not recreate it),
large objects (they live outside every table) and a table without columns.
Collations are kept: a column whose collation is not its type's default carries a
``COLLATE`` clause in its type text.
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
    SourceError,
    Table,
    UniqueConstraint,
    sorted_snapshot,
)

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname"""

# Tables whose rows the dump would leave out: any schema but ours (and the system's), and
# partitioned tables in ours (their partitions hold the rows, under the parent's rules).
_UNREAD_TABLES = """
SELECT DISTINCT n.nspname, c.relkind = 'p' FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
  AND (n.nspname <> %s OR c.relkind = 'p')
ORDER BY 1"""

# The schema of a column's type, or of its element type for an array: anything but
# pg_catalog is a type this database defines (enum, domain, composite, extension type).
_COLUMNS = """
SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
       (SELECT tn.nspname FROM pg_type et JOIN pg_namespace tn ON tn.oid = et.typnamespace
        WHERE et.oid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END),
       quote_ident(co.collname), cn.nspname
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum"""

# Functions outside pg_catalog that a table's defaults, constraints or indexes call.
_FUNCTION_USES = """
SELECT DISTINCT c.relname, p.proname FROM pg_depend d
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_class c ON c.oid = CASE d.classid
    WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_attrdef WHERE oid = d.objid)
    WHEN 'pg_constraint'::regclass THEN (SELECT conrelid FROM pg_constraint WHERE oid = d.objid)
    WHEN 'pg_class'::regclass THEN (SELECT indrelid FROM pg_index WHERE indexrelid = d.objid)
  END
WHERE pn.nspname <> 'pg_catalog' AND c.oid = ANY(%s)
ORDER BY 1, 2"""

# Row-level security: the restore would recreate neither the switch nor the policies, so
# every role could then read every row. (The dump itself runs with row_security off, so
# a role that policies would filter gets an error, never a partial table.)
_ROW_SECURITY = """
SELECT c.relname FROM pg_class c WHERE c.oid = ANY(%s)
  AND (c.relrowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))
ORDER BY 1"""

# Operator classes an index (or an exclusion constraint's index) uses from outside
# pg_catalog: an extension's (pg_trgm, btree_gist), which the restore does not install.
_OPERATOR_CLASSES = """
SELECT DISTINCT t.relname, ic.relname, opc.opcname, n.nspname
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
CROSS JOIN LATERAL unnest(i.indclass::oid[]) AS used(oid)
JOIN pg_opclass opc ON opc.oid = used.oid JOIN pg_namespace n ON n.oid = opc.opcnamespace
WHERE i.indrelid = ANY(%s) AND n.nspname <> 'pg_catalog'
ORDER BY 1, 2"""

_NO_COLUMNS = """
SELECT c.relname FROM pg_class c WHERE c.oid = ANY(%s) AND NOT EXISTS (
    SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
      AND NOT a.attisdropped)
ORDER BY 1"""

_INHERITING = """
SELECT DISTINCT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid IN (i.inhrelid, i.inhparent)
WHERE c.oid = ANY(%s) ORDER BY 1"""

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


def _refuse_unread_tables(conn: psycopg.Connection[Any], schema: str) -> None:
    """Refuse a database whose rows would not all be in the dump (see ``_UNREAD_TABLES``)."""
    found = conn.execute(_UNREAD_TABLES, (schema,)).fetchall()
    elsewhere = sorted({name for name, _ in found if name != schema})
    if elsewhere:
        raise SourceError(
            f"the database has tables in schema {', '.join(elsewhere)} besides {schema}; the "
            f"PostgreSQL dumper backs up schema {schema} only, so their rows would be "
            f"missing from the backup: move them into {schema}, or ask for more schemas "
            "to be supported"
        )
    if found:
        raise SourceError(
            f"schema {schema} has partitioned tables, which the PostgreSQL dumper does not "
            "support yet (their rows would come back without the partitioning); ask for "
            "them to be supported"
        )


def _refuse_unrestorable(conn: psycopg.Connection[Any], oids: list[int]) -> None:
    """Refuse tables whose restore would fail or mix rows (see the module docstring)."""
    uses = conn.execute(_FUNCTION_USES, (oids,)).fetchall()
    if uses:
        table, function = uses[0]
        raise SourceError(
            f"table {table}: a default, check or index calls the function {function}, which "
            "this database defines itself (or an extension does); the PostgreSQL dumper "
            "does not recreate functions yet, so a restore could not create the table: "
            "ask for functions to be supported"
        )
    secured = _table_names(conn, _ROW_SECURITY, oids)
    if secured:
        raise SourceError(
            f"table {', '.join(secured)}: row-level security is on or has policies, which "
            "the PostgreSQL dumper does not recreate yet (a restored table would show every "
            "row to every role); ask for it to be supported"
        )
    classes = conn.execute(_OPERATOR_CLASSES, (oids,)).fetchall()
    if classes:
        table, index, opclass, where = classes[0]
        raise SourceError(
            f"table {table}: index {index} uses the operator class {opclass} of schema "
            f"{where} (an extension's, such as pg_trgm or btree_gist), which the PostgreSQL "
            "dumper does not install on a restore, so the restore would fail after loading "
            "the rows: ask for extensions to be supported"
        )
    empty = _table_names(conn, _NO_COLUMNS, oids)
    if empty:
        raise SourceError(
            f"table {', '.join(empty)}: a table without columns cannot be restored through "
            "COPY; drop it or give it a column"
        )
    inheriting = _table_names(conn, _INHERITING, oids)
    if inheriting:
        raise SourceError(
            f"table {', '.join(inheriting)}: table inheritance is not supported by the "
            "PostgreSQL dumper yet (a parent's dump would include its children's rows); "
            "ask for it to be supported"
        )


def _table_names(conn: psycopg.Connection[Any], query: str, oids: list[int]) -> list[str]:
    """The table names a one-column check query finds among ``oids`` (none: it passed)."""
    return [name for (name,) in conn.execute(query, (oids,)).fetchall()]


def _refuse_large_objects(conn: psycopg.Connection[Any]) -> None:
    """Large objects live outside every table (``lo_*``); the dump would lose them."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata)").fetchone()
    if row and row[0]:
        raise SourceError(
            "the database holds large objects (lo_import, lo_from_bytea), which the "
            "PostgreSQL dumper does not back up: their rows would point at nothing after a "
            "restore; keep such content in bytea columns, or ask for them to be supported"
        )


def read_snapshot(conn: psycopg.Connection[Any], schema: str, version: str) -> SchemaSnapshot:
    """The snapshot of ``schema``, read inside the caller's (snapshot) transaction."""
    _refuse_unread_tables(conn, schema)
    _refuse_large_objects(conn)
    tables = dict(conn.execute(_TABLES, (schema,)).fetchall())
    oids = list(tables)
    columns: dict[int, list[Column]] = {oid: [] for oid in oids}
    _refuse_unrestorable(conn, oids)
    for row in conn.execute(_COLUMNS, (oids,)):
        (
            rel,
            name,
            type_,
            notnull,
            default,
            identity,
            generated,
            type_schema,
            collation,
            coll_schema,
        ) = row
        if generated:
            raise SourceError(
                f"table {tables[rel]}: column {name} is a generated column, which the "
                "PostgreSQL dumper does not support yet; ask for it to be added"
            )
        if type_schema != "pg_catalog":
            raise SourceError(
                f"table {tables[rel]}: column {name} has type {type_}, which this database "
                "defines itself (an enum, a domain, a composite or an extension's type); "
                "the PostgreSQL dumper does not recreate such types yet, so a restore "
                "would fail: use a built-in type (text with a CHECK for an enum), or ask "
                "for the type to be supported"
            )
        if collation is not None:
            if coll_schema != "pg_catalog":
                raise SourceError(
                    f"table {tables[rel]}: column {name} uses the collation {collation}, "
                    "which this database defines itself; the PostgreSQL dumper does not "
                    "recreate collations yet: use a built-in one, or ask for it"
                )
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
