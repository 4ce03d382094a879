"""PostgreSQL dumper and loader (psycopg 3), streaming COPY text both ways.

The hot path never builds Python rows: ``COPY (SELECT ... ORDER BY pk) TO STDOUT`` bytes go
straight from libpq into blocks of about 1 MiB (``postgres_copy``), and a restore writes
chunks straight into ``COPY ... FROM STDIN``. The data format (``postgresql-copy-text``) is
PostgreSQL's own COPY text format under fixed session settings (UTC, ISO dates, hex bytea,
shortest exact floats), so the same rows give the same bytes whatever the server's or the
role's defaults are.

The whole dump runs in one ``REPEATABLE READ READ ONLY`` transaction: the schema and every
table are read as of one instant, so the tables are consistent with each other. The DDL is
``pg_dump``'s, taken in that same snapshot (``pg_tools``): every type, function, table,
view, trigger, rule and policy of the schema, with the extensions it uses. A restore runs
its pre-data part, loads the rows, then its post-data part in the restore's phases, as
``pg_restore`` would; snapshots written before the archive was carried are restored from
their structured fields (tables, keys, indexes, foreign keys, sequences) as they were.
"""

from __future__ import annotations

import base64
import itertools
import json
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from retention_pipeline.adapters.dumpers import Endpoint, pg_tools
from retention_pipeline.adapters.dumpers.copy_text import CHUNK_SIZE
from retention_pipeline.adapters.dumpers.postgres_builds import (
    Builds,
    Prebuilt,
    plain_unique_suffix,
    prebuilt,
)
from retention_pipeline.adapters.dumpers.postgres_catalog import read_snapshot
from retention_pipeline.adapters.dumpers.postgres_copy import copy_out
from retention_pipeline.adapters.dumpers.postgres_inventory import read_inventory
from retention_pipeline.adapters.dumpers.postgres_lanes import (
    LANES,
    PIECE_SIZE,
    SOLO_LIMIT,
    copy_in_lanes,
    row_pieces,
)
from retention_pipeline.adapters.dumpers.session import Session
from retention_pipeline.ports.source import (
    APPLY_ALL,
    ForeignKey,
    Phase,
    RestoreOptions,
    SchemaObject,
    SchemaSnapshot,
    SourceError,
    Table,
    UniqueConstraint,
)

Statement = sql.SQL | sql.Composed

DATA_FORMAT = "postgresql-copy-text"
# Dump blocks of 1 MiB, not copy_text's 256 KiB: each block is one hand-over between the
# dump thread and the packer (read_ahead), and fewer of them cut a 1M-row pass one by
# about 0.15 s on two cores (benchmarks/README.md); read_ahead holds at most 8 of them.
DUMP_BLOCK = 4 * CHUNK_SIZE
_SESSION = [
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 1",
    "SET bytea_output = 'hex'",
    "SET client_encoding = 'UTF8'",
    "SET standard_conforming_strings = on",
]


# Where the schema snapshot's ``native`` field keeps pg_dump's archive (base64), the
# extensions the schema uses and the materialized views that held rows.
ARCHIVE = "pg_dump-custom"
EXTENSIONS = "extensions"
POPULATED = "populated-materialized-views"

_EXTENSIONS = """
SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname <> 'plpgsql' ORDER BY 1"""
_POPULATED = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind = 'm' AND c.relispopulated ORDER BY 1"""


class _Postgres(Session):
    """A connection in autocommit mode with the canonical session settings."""

    engine = "postgresql"

    def __init__(self, endpoint: Endpoint, namespace: str = "public") -> None:
        self.endpoint = endpoint
        self.namespace = namespace
        try:
            conninfo = make_conninfo("", password=endpoint.password, **self._where())
            self.conn: psycopg.Connection[Any] = psycopg.connect(conninfo, autocommit=True)
            self.settle_session()
        except psycopg.Error as error:
            raise self.failure("connecting", error) from None

    def _where(self) -> dict[str, Any]:
        endpoint = self.endpoint
        return {
            "host": endpoint.host,
            "port": endpoint.port,
            "user": endpoint.user,
            "dbname": endpoint.database,
            **endpoint.query,
        }

    def tools_connection(self) -> pg_tools.Connection:
        """How pg_dump and pg_restore reach the same database (password in their env)."""
        where = {k: v for k, v in self._where().items() if v is not None}
        return pg_tools.Connection(make_conninfo("", **where), self.endpoint.password)

    def settle_session(self) -> None:
        """The canonical settings (again after a pg_dump script changed some of them)."""
        for statement in _SESSION:
            self.conn.execute(statement)
        # Names in the dump's defaults and keys are unqualified (they are resolved in
        # this schema when read), so both sides resolve them in this schema only,
        # whatever search_path the database or the role sets.
        self.conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(self.namespace)))

    def table_id(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.namespace, name)

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()


class PostgresDumper(_Postgres):
    """Reads one consistent snapshot; see the module docstring."""

    data_format = DATA_FORMAT

    def __init__(self, endpoint: Endpoint, namespace: str = "public") -> None:
        super().__init__(endpoint, namespace)
        try:
            # as pg_dump does: a role that row-level security would filter gets an error
            # instead of a backup silently missing the rows it may not see
            self.conn.execute("SET row_security = off")
            self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        except psycopg.Error as error:
            self.close()
            raise self.failure("starting the snapshot transaction", error) from None

    def server_version(self) -> str:
        row = self.conn.execute("SHOW server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def schema(self) -> SchemaSnapshot:
        try:
            archive = self._start_archive()
            try:
                snapshot = read_snapshot(self.conn, self.namespace, self.server_version())
                objects = self.inventory()
                native = self._native(archive.result())
            finally:
                archive.cancel()
        except psycopg.Error as error:
            raise self.failure("reading the schema", error) from None
        return replace(snapshot, objects=objects, native=native)

    def _start_archive(self) -> pg_tools.SchemaDump:
        """Start pg_dump's schema-only archive in this very snapshot (it runs meanwhile)."""
        row = self.conn.execute("SHOW server_version_num").fetchone()
        pg_tools.check_version(int(row[0]) if row else 0)
        exported = self.conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert exported is not None  # the function always returns one row
        return pg_tools.SchemaDump(self.tools_connection(), self.namespace, exported[0])

    def _native(self, archive: bytes) -> dict[str, str]:
        """pg_dump's archive, and what it leaves out: extensions, views holding rows."""
        extensions = [list(r) for r in self.conn.execute(_EXTENSIONS).fetchall()]
        populated = [r[0] for r in self.conn.execute(_POPULATED, (self.namespace,))]
        return {
            ARCHIVE: base64.b64encode(archive).decode("ascii"),
            EXTENSIONS: json.dumps(extensions),
            POPULATED: json.dumps(populated),
        }

    def inventory(self) -> tuple[SchemaObject, ...]:
        try:
            return read_inventory(self.conn, self.namespace)
        except psycopg.Error as error:
            raise self.failure("reading the schema's inventory", error) from None

    def dump_table(self, table: Table) -> Iterator[bytes]:
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
        order: sql.Composable
        if table.primary_key:
            order = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
        else:  # whole-row text in byte order: total and the same on every server
            order = sql.SQL('(r.*)::text COLLATE "C"')  # r.*: even with a column named r
        # ONLY: an inheritance parent's own rows (its children are tables of their own)
        query = sql.SQL("COPY (SELECT {} FROM ONLY {} AS r ORDER BY {}) TO STDOUT").format(
            columns, self.table_id(table.name), order
        )
        try:
            yield from copy_out(self.conn, query, DUMP_BLOCK)
        except psycopg.Error as error:
            raise self.failure("dumping", error, table.name) from None

    def close(self) -> None:
        if not self.conn.closed and self.conn.info.transaction_status:
            with suppress(psycopg.Error):  # closing anyway: the session end rolls back
                self.conn.execute("ROLLBACK")
        super().close()


_MAINTENANCE_MEMORY = "SET maintenance_work_mem = '256MB'"


class PostgresLoader(_Postgres):
    """Writes into an empty schema; every step is its own transaction."""

    def __init__(self, endpoint: Endpoint, namespace: str = "public") -> None:
        super().__init__(endpoint, namespace)
        self._skipped: list[str] = []
        self._listed: dict[str, list[pg_tools.Entry]] = {}
        self._prebuilt: dict[str, Prebuilt] | None = None
        self._roles: set[str] | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        try:
            self.settle_session()
        except psycopg.Error as error:
            self.close()
            raise self.failure("configuring the session", error) from None

    def settle_session(self) -> None:
        super().settle_session()
        # Keys and indexes are built after the load: with the server's default 64 MB
        # their sorts spill to disk and get one parallel worker; 256 MB keeps a CRM's
        # largest index in memory (this session only, like pg_restore's users do).
        self.conn.execute(_MAINTENANCE_MEMORY)

    def close(self) -> None:
        if "_builds" in self.__dict__:
            self._builds.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        super().close()

    def is_empty(self) -> bool:
        try:
            row = self.conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')",
                (self.namespace,),
            ).fetchone()
        except psycopg.Error as error:
            raise self.failure("checking the target", error) from None
        return bool(row and row[0] == 0)

    def has_table(self, name: str) -> bool:
        try:
            row = self.conn.execute(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')",
                (self.namespace, name),
            ).fetchone()
        except psycopg.Error as error:
            raise self.failure("checking the target", error) from None
        return bool(row and row[0])

    def clear(self) -> None:
        """Drop the target schema with everything in it, then create it empty again.

        ``restore --force`` only: a schema holds types, functions and the rest besides
        tables, and any of them left behind would clash with the restore's own.
        """
        schema = sql.Identifier(self.namespace)
        try:
            with self.conn.transaction():
                self.conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(schema))
                self.conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
        except psycopg.Error as error:
            raise self.failure("emptying the target", error) from None

    def create_schema(
        self, snapshot: SchemaSnapshot, *, phase: Phase, options: RestoreOptions = APPLY_ALL
    ) -> None:
        self.refuse_unsafe_target(
            snapshot, phase, self.is_empty, target=f"the target schema {self.namespace}"
        )
        native = ARCHIVE in snapshot.native
        try:
            statements: list[Statement | str]
            if native:  # one script: pg_restore's SQL of this phase's slice
                statements = [self._native_phase(snapshot, phase, options)]
            else:
                statements = list(_PHASES[phase](self, snapshot))
            with self.conn.transaction():
                for statement in statements:
                    self.conn.execute(statement)
            if native:
                self.settle_session()
        except psycopg.Error as error:
            raise self.failure(f"creating the schema ({phase})", error) from None

    def _native_phase(self, snapshot: SchemaSnapshot, phase: Phase, options: RestoreOptions) -> str:
        """The SQL of pg_dump's archive that ``phase`` runs (``pg_tools.PHASES``).

        Keys and indexes are built as ``postgres_builds`` says: ``keys`` first runs the
        constraints that keep pg_dump's statement, then starts the other indexes in a
        second session and builds the primary keys in this one; ``indexes`` waits for
        that session, then adds the foreign keys; ``constraints`` attaches the keys and
        unique constraints built as indexes.
        """
        archive = self._archive(snapshot)
        if phase == "tables":
            text = self._script(archive, self._contents(archive, "pre-data"), options)
            self._note_switches(options)
            return self._extensions(snapshot) + _create_schema_if_missing(text, self.namespace)
        built = self._prebuilt_constraints(snapshot)
        entries = [
            e
            for e in self._contents(archive, "post-data")
            if _phase_of(e.kind) == phase and e.line not in built
        ]
        if phase == "keys":
            self._run_script(self._script(archive, entries, options))
            indexes = [
                e
                for e in self._contents(archive, "post-data")
                if _phase_of(e.kind) == "indexes" and e.kind != "FK CONSTRAINT"
            ]
            self._builds.start(
                "".join(b.build for b in built.values() if not b.key)
                + self._script(archive, indexes, options)
            )
            return "".join(b.build for b in built.values() if b.key)
        if phase == "indexes":
            self._builds.wait()
            # the index builds ran in the second session, started by ``keys``
            return self._script(archive, [e for e in entries if e.kind == "FK CONSTRAINT"], options)
        text = self._script(archive, entries, options)
        if phase == "constraints":
            return "".join(b.attach for b in built.values()) + text
        return self._refreshes(snapshot, archive) + text  # objects

    def _script(self, archive: Path, entries: list[pg_tools.Entry], options: RestoreOptions) -> str:
        """pg_restore's SQL of ``entries``, without the owners and grants left out."""
        text = pg_tools.script(
            archive, entries, owners=options.owners, privileges=options.privileges
        )
        if text and (options.owners or options.privileges):
            if self._roles is None:
                self._roles = {r for (r,) in self.conn.execute("SELECT rolname FROM pg_roles")}
            text, dropped = pg_tools.drop_missing_roles(text, self._roles)
            self._skipped += dropped
        return text

    def _run_script(self, text: str) -> None:
        if text:
            with self.conn.transaction():
                self.conn.execute(text)
            self.settle_session()

    def _contents(self, archive: Path, section: str) -> list[pg_tools.Entry]:
        """The archive's table of contents of ``section``, listed once per restore."""
        if section not in self._listed:
            self._listed[section] = pg_tools.contents(archive, section)
        return self._listed[section]

    def _prebuilt_constraints(self, snapshot: SchemaSnapshot) -> dict[str, Prebuilt]:
        """The keys and unique constraints built as indexes first (read once, after
        ``tables``: ``postgres_builds.prebuilt``)."""
        if self._prebuilt is None:
            entries = self._contents(self._archive(snapshot), "post-data")
            self._prebuilt = prebuilt(self.conn, self.namespace, snapshot, entries)
        return self._prebuilt

    @cached_property
    def _builds(self) -> Builds:
        """The second session of the index builds, opened when ``keys`` first needs it."""
        helper = _Postgres(self.endpoint, self.namespace)
        helper.conn.execute(_MAINTENANCE_MEMORY)
        return Builds(helper.conn)

    def _archive(self, snapshot: SchemaSnapshot) -> Path:
        """pg_dump's archive as a file pg_restore can read (written once per restore)."""
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="retention-pgrestore-")
        path = Path(self._scratch.name) / "schema.dump"
        if not path.exists():
            path.write_bytes(base64.b64decode(snapshot.native[ARCHIVE]))
        return path

    def _extensions(self, snapshot: SchemaSnapshot) -> str:
        """``CREATE EXTENSION`` for what the schema uses (``pg_dump --schema`` omits them)."""
        lines = []
        for name, schema in json.loads(snapshot.native.get(EXTENSIONS, "[]")):
            quoted = sql.Identifier(schema).as_string(self.conn)
            lines.append(f"CREATE SCHEMA IF NOT EXISTS {quoted};")
            ext = sql.Identifier(name).as_string(self.conn)
            lines.append(f"CREATE EXTENSION IF NOT EXISTS {ext} WITH SCHEMA {quoted};")
        return "\n".join(lines) + "\n"

    def _refreshes(self, snapshot: SchemaSnapshot, archive: Path) -> str:
        """Fill the materialized views that held rows, in the archive's dependency order."""
        populated = set(json.loads(snapshot.native.get(POPULATED, "[]")))
        names = [
            e.line.split(" ")[-2]
            for e in self._contents(archive, "pre-data")
            if e.kind == "MATERIALIZED VIEW"
        ]
        return "".join(
            f"REFRESH MATERIALIZED VIEW {self.table_id(name).as_string(self.conn)};\n"
            for name in names
            if name in populated
        )

    def _note_switches(self, options: RestoreOptions) -> None:
        if not options.owners:
            self._skipped.append("owners: none applied (--no-owner); the restoring role owns all")
        if not options.privileges:
            self._skipped.append("privileges: no GRANT or REVOKE applied (--no-privileges)")

    def skipped(self) -> tuple[str, ...]:
        return tuple(self._skipped)

    def load_table(self, table: Table, chunks: Iterable[bytes]) -> None:
        """COPY the table's rows in; a large table goes through ``LANES`` sessions at once."""
        columns = sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)
        query = sql.SQL("COPY {} ({}) FROM STDIN").format(self.table_id(table.name), columns)
        pieces = row_pieces(chunks, PIECE_SIZE)
        head: list[bytes] = []
        size = 0
        for piece in pieces:
            head.append(piece)
            size += len(piece)
            if size >= SOLO_LIMIT:
                break
        else:  # the whole table is in ``head``: one session is enough
            self._copy_in([self.conn], query, head, table)
            return
        helpers = [_Postgres(self.endpoint, self.namespace) for _ in range(LANES - 1)]
        try:
            connections = [self.conn, *(h.conn for h in helpers)]
            self._copy_in(connections, query, itertools.chain(head, pieces), table)
        finally:
            for helper in helpers:
                helper.close()

    def _copy_in(
        self,
        connections: list[psycopg.Connection[Any]],
        query: sql.Composed,
        pieces: Iterable[bytes],
        table: Table,
    ) -> None:
        try:
            copy_in_lanes(connections, query, pieces)
        except psycopg.Error as error:
            raise self.failure("loading", error, table.name) from None

    def set_sequences(self, snapshot: SchemaSnapshot) -> None:
        identity = {f"{t.name}.{c.name}" for t in snapshot.tables for c in t.columns if c.identity}
        try:
            with self.conn.transaction():
                for seq in snapshot.sequences:
                    if seq.owned_by in identity:
                        table, column = owner(snapshot, seq.owned_by)
                        qualified = self.table_id(table).as_string(self.conn)
                        target: Any = sql.SQL("pg_get_serial_sequence({}, {})").format(
                            sql.Literal(qualified), sql.Literal(column)
                        )
                    else:
                        name = self.table_id(seq.name).as_string(self.conn)
                        target = sql.SQL("{}::regclass").format(sql.Literal(name))
                    self.conn.execute(
                        sql.SQL("SELECT setval({}, %s, %s)").format(target),
                        (seq.value, seq.is_called),
                    )
        except psycopg.Error as error:
            raise self.failure("setting sequences", error) from None


def owner(snapshot: SchemaSnapshot, owned_by: str) -> tuple[str, str]:
    """The (table, column) a sequence's ``owned_by`` names.

    ``owned_by`` is ``table.column``, and either name may hold dots of its own, so it is
    matched against the snapshot's columns instead of being split.
    """
    for table in snapshot.tables:
        for column in table.columns:
            if f"{table.name}.{column.name}" == owned_by:
                return table.name, column.name
    raise SourceError(f"sequence owner {owned_by}: no such column in the dump's schema")


def _table_ddl(loader: _Postgres, snapshot: SchemaSnapshot) -> list[Statement]:
    """Sequences, then bare tables (columns, defaults, NOT NULL), then OWNED BY links."""
    owned = {s.owned_by: s for s in snapshot.sequences if s.owned_by}
    identity = {f"{t.name}.{c.name}" for t in snapshot.tables for c in t.columns if c.identity}
    out: list[Statement] = []
    for seq in snapshot.sequences:
        if seq.owned_by not in identity:
            kind = sql.SQL(f"AS {seq.data_type} ") if seq.data_type else sql.SQL("")
            out.append(
                sql.SQL("CREATE SEQUENCE {} {}{}").format(
                    loader.table_id(seq.name), kind, sql.SQL(seq.definition or "")
                )
            )
    for table in snapshot.tables:
        columns = []
        for col in table.columns:
            parts = [sql.Identifier(col.name), sql.SQL(col.type)]
            if col.identity:
                own = owned.get(f"{table.name}.{col.name}")
                options = f" ({own.definition})" if own and own.definition else ""
                parts.append(sql.SQL(f"GENERATED {col.identity} AS IDENTITY{options}"))
            if col.default is not None:
                parts.append(sql.SQL("DEFAULT " + col.default))
            if not col.nullable:
                parts.append(sql.SQL("NOT NULL"))
            columns.append(sql.SQL(" ").join(parts))
        out.append(
            sql.SQL("CREATE TABLE {} ({})").format(
                loader.table_id(table.name), sql.SQL(", ").join(columns)
            )
        )
    for seq in snapshot.sequences:
        if seq.owned_by and seq.owned_by not in identity:
            table_name, column = owner(snapshot, seq.owned_by)
            out.append(
                sql.SQL("ALTER SEQUENCE {} OWNED BY {}.{}").format(
                    loader.table_id(seq.name), loader.table_id(table_name), sql.Identifier(column)
                )
            )
    return out


def _key_ddl(loader: _Postgres, snapshot: SchemaSnapshot) -> list[Statement]:
    """Primary keys: what the verification re-dump walks (it reads in key order)."""
    out: list[Statement] = []
    for table in snapshot.tables:
        if table.primary_key:
            keys = sql.SQL(", ").join(sql.Identifier(c) for c in table.primary_key)
            pk_name = table.primary_key_name or f"{table.name}_pkey"
            primary: Statement = sql.SQL("PRIMARY KEY ({})").format(keys)
            if table.primary_key_definition:  # the server's own text: DEFERRABLE, INCLUDE...
                primary = sql.SQL(table.primary_key_definition)
            out.append(_ADD.format(loader.table_id(table.name), sql.Identifier(pk_name), primary))
    return out


def _index_ddl(loader: _Postgres, snapshot: SchemaSnapshot) -> list[Statement]:
    """Every build that leaves the tables readable, so the verification runs meanwhile.

    ``CREATE [UNIQUE] INDEX`` takes a SHARE lock and ``ADD FOREIGN KEY`` a SHARE ROW
    EXCLUSIVE one; neither blocks the verification's reads. A plain unique constraint is
    built here as a unique index of the constraint's name and attached in the last phase
    (``USING INDEX``, instant). A foreign key comes here when a key or an index built by
    now backs its referenced columns; otherwise it waits for the last phase.
    """
    out: list[Statement] = []
    for table in snapshot.tables:
        for unique in table.uniques:
            if (how := _plain_unique(unique)) is not None:
                columns = sql.SQL(", ").join(sql.Identifier(c) for c in unique.columns)
                out.append(
                    sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}){}").format(
                        sql.Identifier(unique.name),
                        loader.table_id(table.name),
                        columns,
                        sql.SQL(how),
                    )
                )
    for index in snapshot.indexes:
        if index.definition is None:
            raise SourceError(f"index {index.name}: the snapshot has no definition to replay")
        out.append(sql.SQL(index.definition))
    return out + _foreign_keys(loader, snapshot, backed=True)


def _constraint_ddl(loader: _Postgres, snapshot: SchemaSnapshot) -> list[Statement]:
    """What needs a table to itself: unique and check constraints, the remaining keys."""
    out: list[Statement] = []
    for table in snapshot.tables:
        tid = loader.table_id(table.name)
        for unique in table.uniques:
            name = sql.Identifier(unique.name)
            if _plain_unique(unique) is not None:
                out.append(_ADD.format(tid, name, sql.SQL("UNIQUE USING INDEX {}").format(name)))
            else:
                definition = unique.definition or _unique_sql(unique.columns)
                out.append(_ADD.format(tid, name, sql.SQL(definition)))
        for check in table.checks:
            out.append(_ADD.format(tid, sql.Identifier(check.name), sql.SQL(check.definition)))
    return out + _foreign_keys(loader, snapshot, backed=False)


_ADD = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}")


def _plain_unique(unique: UniqueConstraint) -> str | None:
    """The index suffix of a plain unique constraint (``postgres_builds``), else None."""
    return plain_unique_suffix(unique.definition)


def _foreign_keys(loader: _Postgres, snapshot: SchemaSnapshot, *, backed: bool) -> list[Statement]:
    """The foreign keys whose referenced columns a primary key or a plain unique constraint
    backs once ``keys`` and ``indexes`` ran (``backed=True``), or the others."""
    ready = {(t.name, frozenset(t.primary_key)) for t in snapshot.tables if t.primary_key}
    ready |= {
        (t.name, frozenset(u.columns))
        for t in snapshot.tables
        for u in t.uniques
        if _plain_unique(u) is not None
    }
    return [
        _foreign_key(loader, fk)
        for fk in snapshot.foreign_keys
        if ((fk.ref_table, frozenset(fk.ref_columns)) in ready) == backed
    ]


def _foreign_key(loader: _Postgres, fk: ForeignKey) -> Statement:
    if fk.definition is None:
        raise SourceError(f"foreign key {fk.name}: the snapshot has no definition to replay")
    return _ADD.format(loader.table_id(fk.table), sql.Identifier(fk.name), sql.SQL(fk.definition))


def _unique_sql(columns: tuple[str, ...]) -> str:
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
    return f"UNIQUE ({quoted})"


def _object_ddl(loader: PostgresLoader, snapshot: SchemaSnapshot) -> list[Statement]:
    """Views, triggers, rules and the rest are not recreated yet (the inventory says so)."""
    return []


def _phase_of(kind: str) -> Phase:
    """The restore phase of a post-data entry kind (``pg_tools.PHASES``; else constraints)."""
    for phase, kinds in pg_tools.PHASES.items():
        if kinds is not None and kind in kinds:
            return phase  # type: ignore[return-value]
    return "constraints"


def _create_schema_if_missing(text: str, namespace: str) -> str:
    """pg_dump's ``CREATE SCHEMA`` of the restored schema, kept only where it is missing.

    The schema exists on most targets (``public``, or one an operator made for the
    restore); its owner, grants and comment still follow from the archive.
    """
    quoted = '"' + namespace.replace('"', '""') + '"'
    for name in {namespace, quoted}:
        create = f"\nCREATE SCHEMA {name};\n"
        text = text.replace(create, f"\nCREATE SCHEMA IF NOT EXISTS {name};\n")
    return text


_PHASES = {
    "tables": _table_ddl,
    "keys": _key_ddl,
    "indexes": _index_ddl,
    "constraints": _constraint_ddl,
    "objects": _object_ddl,
}
