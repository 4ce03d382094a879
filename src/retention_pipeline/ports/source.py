"""The source port: read a client's CRM database as a schema plus a stream per table,
and write the same into an empty database of the same engine.

Vocabulary:

* ``SchemaSnapshot`` describes every table, index, foreign key and sequence in engine-native
  words (column types as the engine prints them). It is JSON-able with a stable order, so two
  snapshots of the same schema give the same JSON and restore can be checked by equality
  (except ``native``: the engine tool's own archive there records when it was made).
* A table's *dump* is the stream of its rows in a canonical text format (see
  ``docs/dump-formats.md``): one line per row, PostgreSQL COPY text escaping, rows ordered by
  primary key (or by every column when there is none). Same data, same bytes: that is what
  lets a restore be verified by row count and SHA-256 alone.

Contract of every adapter:

* A ``Dumper`` reads one consistent snapshot: ``schema()`` and every ``dump_table`` call see
  the database as of one instant (one read-only transaction), however long the dump takes.
  It never writes. ``dump_table`` streams in chunks of bounded size; it never holds a table.
* A ``Loader`` only writes into an empty database (``is_empty()``); ``create_schema`` with
  ``phase="tables"`` refuses a non-empty target with ``RefusedError``. Restore order is:
  ``create_schema(phase="tables")``, ``load_table`` for each table, then the phases that
  follow the data (faster, and independent of table order): ``keys`` (what an ordered
  re-dump walks: primary keys; an engine may start the builds of ``indexes`` in a
  session of its own meanwhile), ``indexes`` (builds that leave every table readable,
  waiting for any started during ``keys``: it runs while the verification re-dumps the
  tables through another session),
  ``constraints`` (what needs a table to itself; it runs once the verification's session
  is closed), then ``set_sequences``, then ``objects`` (triggers, rules, materialized
  views and the rest that must come after the rows). An engine may do all of its work in
  one of these phases and none in the others. None of these is idempotent: a failed
  restore is retried into a fresh empty database.
* Verification dumps the restored database again through a ``Dumper`` and compares the row
  count and SHA-256 of every table (``digest_tables`` and ``table_dump_mismatches``), then
  the *inventory* of every schema object (``Dumper.inventory``: kind, name and the SHA-256
  of the engine's own text of its definition) with the one the backup recorded
  (``inventory_mismatches``): a restore that lost a view, a trigger or a function, or
  recreated one differently, fails its verification.
* What a dumper cannot carry is refused when the schema is read, all at once:
  ``UnsupportedSchemaError`` lists every such object by kind and qualified name (exit code
  3, refused), so nothing is ever dropped silently.
* Errors are ``SourceError`` (permanent for this run) naming the engine, host and table,
  never the URL (it may hold a password) nor any value of a row (driver messages about
  constraint violations quote client data, so adapters drop them and keep the SQLSTATE).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, Self, runtime_checkable

from retention_pipeline.errors import RetentionError

Engine = Literal["postgresql", "mariadb", "sqlite"]
Phase = Literal["tables", "keys", "indexes", "constraints", "objects"]
SNAPSHOT_FORMAT = "retention-pipeline/schema-snapshot/v2"
# Snapshots written before the inventory existed; they read back with no objects.
_OLDER_SNAPSHOT_FORMATS = ("retention-pipeline/schema-snapshot/v1",)


class SourceError(RetentionError):
    """A source database could not be read or written; the message names engine, host, table."""


@dataclass(frozen=True, order=True)
class UnsupportedObject:
    """A schema object a dumper cannot carry: its kind, qualified name, and why in words."""

    kind: str
    name: str
    why: str


class UnsupportedSchemaError(SourceError):
    """The schema holds objects the dumper cannot carry; every one of them is listed.

    Refused (exit code 3), not failed: the database is fine, the tool cannot back it up
    whole, and a backup that silently drops an object would be a false recovery point.
    """

    exit_code = 3

    def __init__(self, label: str, objects: Iterable[UnsupportedObject]) -> None:
        self.objects = tuple(sorted(set(objects)))
        listed = "; ".join(f"{o.kind} {o.name} ({o.why})" for o in self.objects)
        super().__init__(
            f"{label}: {len(self.objects)} schema object(s) cannot be carried by a backup, "
            f"so none was taken: {listed}; change or remove them, or ask for them to be "
            "supported (docs/dump-formats.md lists what is carried)"
        )


@dataclass(frozen=True)
class RestoreOptions:
    """What a restore applies besides the objects themselves (``pg_restore``'s switches).

    Owners and privileges name roles, which differ between servers: with ``owners`` and
    ``privileges`` on, a loader applies those whose roles exist on the target and lists
    the rest as skipped; switched off (``--no-owner``, ``--no-privileges``), it skips them
    all and says so. Either way ``Loader.skipped`` tells what was left out.
    """

    owners: bool = True
    privileges: bool = True


APPLY_ALL = RestoreOptions()  # owners and grants applied wherever their roles exist


@dataclass(frozen=True, order=True)
class SchemaObject:
    """One schema object as the engine itself reports it: what a restore must recreate.

    ``kind`` is a lower-case word (``table``, ``view``, ``trigger``, ``function``...),
    ``name`` the object's qualified name in the engine's words (``public.contacts``, or
    ``contacts_touch ON public.contacts`` for what lives on a table), and ``sha256`` the
    digest of the engine's own normalised text of its definition (``schema_object``):
    equal digests on source and target mean the same object, without storing its text
    twice. An inventory lists every object once, sorted.
    """

    kind: str
    name: str
    sha256: str


def schema_object(kind: str, name: str, definition: str) -> SchemaObject:
    """The inventory entry of an object whose definition the engine printed as ``definition``."""
    digest = hashlib.sha256(definition.encode("utf-8", "surrogateescape")).hexdigest()
    return SchemaObject(kind, name, digest)


def inventory_mismatches(
    expected: Iterable[SchemaObject], actual: Iterable[SchemaObject]
) -> list[str]:
    """One line per object missing from ``actual``, added to it, or defined differently.

    Lines name kinds and schema names (the CRM vendor's words), never a definition's text
    nor any value, so they are safe to log.
    """
    want = {(o.kind, o.name): o.sha256 for o in expected}
    got = {(o.kind, o.name): o.sha256 for o in actual}
    problems = []
    for kind, name in sorted(want.keys() | got.keys()):
        if (kind, name) not in got:
            problems.append(f"{kind} {name}: missing from the restored database")
        elif (kind, name) not in want:
            problems.append(f"{kind} {name}: present in the restored database but not the dump")
        elif want[kind, name] != got[kind, name]:
            problems.append(f"{kind} {name}: its definition differs from the dumped one")
    return problems


@dataclass(frozen=True)
class Column:
    """One column: ``type`` and ``default`` are the engine's own text (``varchar(200)``)."""

    name: str
    type: str
    nullable: bool
    default: str | None = None
    identity: str | None = None  # PostgreSQL identity: "ALWAYS" / "BY DEFAULT"


@dataclass(frozen=True)
class UniqueConstraint:
    """A named unique constraint; ``definition`` is engine-native DDL when the engine has it."""

    name: str
    columns: tuple[str, ...]
    definition: str | None = None


@dataclass(frozen=True)
class CheckConstraint:
    """A named CHECK constraint with its engine-native definition."""

    name: str
    definition: str


@dataclass(frozen=True)
class Table:
    """A table; ``create_sql`` is the engine's CREATE statement where restore replays it.

    ``primary_key_definition`` is the engine's text of the key where it says more than
    its columns (PostgreSQL: ``DEFERRABLE``, ``INCLUDE``); snapshots
    written before it existed lack it, and their keys are rebuilt from the columns.
    ``rowid`` names the hidden row id a SQLite table keeps besides its columns (no
    INTEGER PRIMARY KEY stands for it), which its dump then carries as a first field;
    None where there is none or a column already is it.
    """

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    primary_key_name: str | None = None
    uniques: tuple[UniqueConstraint, ...] = ()
    checks: tuple[CheckConstraint, ...] = ()
    create_sql: str | None = None
    primary_key_definition: str | None = None
    rowid: str | None = None

    @property
    def order_by(self) -> tuple[str, ...]:
        """Columns the dump is ordered by: the primary key, else every column."""
        return self.primary_key or tuple(c.name for c in self.columns)


@dataclass(frozen=True)
class Index:
    """A secondary index that does not back a primary key or unique constraint."""

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool
    definition: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key; ``on_delete`` is the SQL words (``CASCADE``, ``NO ACTION``...)."""

    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str
    definition: str | None = None


@dataclass(frozen=True)
class Sequence:
    """A counter: a PostgreSQL sequence, a MariaDB AUTO_INCREMENT, a SQLite AUTOINCREMENT.

    ``value`` is what the engine reports (PostgreSQL ``last_value`` with ``is_called``,
    MariaDB the next AUTO_INCREMENT value, SQLite ``sqlite_sequence.seq``); ``owned_by`` is
    ``table.column`` or None.
    """

    name: str
    value: int
    owned_by: str | None = None
    is_called: bool = True
    data_type: str | None = None
    definition: str | None = None


@dataclass(frozen=True)
class SchemaSnapshot:
    """Everything needed to recreate a database's structure, in a stable order.

    ``objects`` is the inventory of every schema object (``Dumper.inventory``) that a
    restore's verification compares; ``native`` holds what the engine's own tools wrote
    about the schema (DDL scripts by section, such as ``pre-data`` and ``post-data``),
    replayed by that engine's loader.
    """

    engine: str
    server_version: str
    tables: tuple[Table, ...]
    indexes: tuple[Index, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    sequences: tuple[Sequence, ...] = field(default=())
    objects: tuple[SchemaObject, ...] = ()
    native: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        """The table called ``name``; ``KeyError`` names it when absent."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; lists are sorted so equal schemas give equal JSON."""
        data = asdict(self)
        data["format"] = SNAPSHOT_FORMAT
        return data

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, two-space indent, UTF-8 safe)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SchemaSnapshot:
        """Inverse of ``to_dict``; raises ``SourceError`` on another format version."""
        if data.get("format") not in (SNAPSHOT_FORMAT, *_OLDER_SNAPSHOT_FORMATS):
            raise SourceError(
                f"schema snapshot has format {data.get('format')!r}, expected "
                f"{SNAPSHOT_FORMAT!r}; restore it with the tool version that wrote it"
            )
        return cls(
            engine=data["engine"],
            server_version=data["server_version"],
            tables=tuple(_table_from(t) for t in data["tables"]),
            indexes=tuple(_tupled(Index, i) for i in data["indexes"]),
            foreign_keys=tuple(_tupled(ForeignKey, f) for f in data["foreign_keys"]),
            sequences=tuple(Sequence(**s) for s in data["sequences"]),
            objects=tuple(SchemaObject(**o) for o in data.get("objects", ())),
            native=dict(data.get("native", {})),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SchemaSnapshot:
        """Parse what ``to_json`` wrote."""
        return cls.from_dict(json.loads(text))


def _tupled(kind: Any, data: Mapping[str, Any]) -> Any:
    """Build ``kind`` from JSON, turning the list fields back into tuples."""
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _table_from(data: Mapping[str, Any]) -> Table:
    return Table(
        name=data["name"],
        columns=tuple(Column(**c) for c in data["columns"]),
        primary_key=tuple(data["primary_key"]),
        primary_key_name=data["primary_key_name"],
        uniques=tuple(_tupled(UniqueConstraint, u) for u in data["uniques"]),
        checks=tuple(CheckConstraint(**c) for c in data["checks"]),
        create_sql=data["create_sql"],
        primary_key_definition=data.get("primary_key_definition"),
        rowid=data.get("rowid"),
    )


def sorted_snapshot(
    engine: str,
    server_version: str,
    tables: Iterable[Table],
    indexes: Iterable[Index] = (),
    foreign_keys: Iterable[ForeignKey] = (),
    sequences: Iterable[Sequence] = (),
) -> SchemaSnapshot:
    """Build a snapshot in canonical order, whatever order the catalog answered in."""
    return SchemaSnapshot(
        engine=engine,
        server_version=server_version,
        tables=tuple(sorted(tables, key=lambda t: t.name)),
        indexes=tuple(sorted(indexes, key=lambda i: (i.table, i.name))),
        foreign_keys=tuple(sorted(foreign_keys, key=lambda f: (f.table, f.name))),
        sequences=tuple(sorted(sequences, key=lambda s: s.name)),
    )


@dataclass(frozen=True)
class TableDump:
    """What a table's dump was: row count and SHA-256 of its bytes, and their format."""

    name: str
    rows: int
    sha256: str
    data_format: str


class TableDigest:
    """Wrap a table's chunk iterator; count rows and hash bytes as they stream through.

    Rows are counted as newline bytes: the format escapes every newline inside a value, so
    each row ends with exactly one. ``result()`` is valid once the iterator is exhausted.
    """

    def __init__(self, name: str, chunks: Iterable[bytes], data_format: str) -> None:
        self.name = name
        self.data_format = data_format
        self._chunks = chunks
        self._hash = hashlib.sha256()
        self._rows = 0
        self._size = 0
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self._hash.update(chunk)
            self._rows += chunk.count(b"\n")
            self._size += len(chunk)
            yield chunk
        self._done = True

    @property
    def size(self) -> int:
        """Bytes seen so far."""
        return self._size

    def result(self) -> TableDump:
        """The table's row count and SHA-256; refuses a dump that was not read to the end."""
        if not self._done:
            raise SourceError(
                f"table {self.name}: its dump was not read to the end, so its checksum is "
                "unknown; consume the whole iterator first"
            )
        return TableDump(self.name, self._rows, self._hash.hexdigest(), self.data_format)


@runtime_checkable
class Dumper(Protocol):
    """Reads one consistent snapshot of a source database (see the module docstring)."""

    engine: str
    data_format: str

    def server_version(self) -> str:
        """The server's version text, recorded in the manifest."""
        ...

    def schema(self) -> SchemaSnapshot:
        """Tables, indexes, foreign keys, sequences and the inventory as of the snapshot.

        Raises ``UnsupportedSchemaError`` listing every object it cannot carry.
        """
        ...

    def inventory(self) -> tuple[SchemaObject, ...]:
        """Every schema object of the database, sorted (see ``SchemaObject``).

        Read in the snapshot on a source; on a restored target, after the last phase. It
        lists what the engine holds, whether or not the dumper carries it, so that an
        object a restore lost shows up as missing.
        """
        ...

    def dump_table(self, table: Table) -> Iterator[bytes]:
        """Stream the table's rows in the canonical format, in bounded chunks."""
        ...

    def close(self) -> None:
        """End the snapshot transaction and the connection; idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class Loader(Protocol):
    """Writes a snapshot and its table dumps into an empty database of the same engine."""

    engine: str

    def is_empty(self) -> bool:
        """True when the target holds no table, view or sequence a restore could clash with."""
        ...

    def has_table(self, name: str) -> bool:
        """Whether the target holds a table of that name (in its restore schema)."""
        ...

    def clear(self) -> None:
        """Drop everything a restore could clash with (only for an explicit ``--force``)."""
        ...

    def create_schema(
        self, snapshot: SchemaSnapshot, *, phase: Phase, options: RestoreOptions = APPLY_ALL
    ) -> None:
        """One phase of the restore order above (``tables``: bare tables and sequences;
        ``objects``, last, after the counters: what must not act on the loaded rows, such
        as triggers, and what reads them, such as materialized views)."""
        ...

    def skipped(self) -> tuple[str, ...]:
        """What the phases run so far left out on purpose, one line each (safe to print).

        Owners and grants of roles the target lacks, or all of them under the options'
        ``--no-owner`` / ``--no-privileges``; never a silent loss: an object a loader
        cannot recreate fails its phase instead.
        """
        ...

    def load_table(self, table: Table, chunks: Iterable[bytes]) -> None:
        """Stream one table's dump (as ``Dumper.dump_table`` produced it) into the table."""
        ...

    def set_sequences(self, snapshot: SchemaSnapshot) -> None:
        """Set every counter so the next insert gets the id the source would have given."""
        ...

    def close(self) -> None:
        """Close the connection (every step already committed); idempotent."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def digest_tables(
    dumper: Dumper, tables: Iterable[Table], *, on_chunk: Callable[[int], None] | None = None
) -> list[TableDump]:
    """Dump ``tables`` through ``dumper`` and keep only their row counts and checksums.

    ``on_chunk`` is told each chunk's length (progress: a re-dump of a large table takes
    as long as its dump).
    """
    results = []
    for table in tables:
        digest = TableDigest(table.name, dumper.dump_table(table), dumper.data_format)
        for chunk in digest:
            if on_chunk is not None:
                on_chunk(len(chunk))
        results.append(digest.result())
    return results


def table_dump_mismatches(expected: Iterable[TableDump], actual: Iterable[TableDump]) -> list[str]:
    """One line per table whose row count or checksum differs, or that is missing or extra.

    The lines name tables and counts only, so they are safe to log.
    """
    want = {d.name: d for d in expected}
    got = {d.name: d for d in actual}
    problems = []
    for name in sorted(want.keys() | got.keys()):
        if name not in got:
            problems.append(f"table {name}: missing from the restored database")
        elif name not in want:
            problems.append(f"table {name}: present in the restored database but not the dump")
        elif want[name].rows != got[name].rows:
            dumped, restored = want[name].rows, got[name].rows
            problems.append(f"table {name}: {dumped} rows dumped, {restored} restored")
        elif want[name].sha256 != got[name].sha256:
            problems.append(f"table {name}: same row count but the data checksum differs")
    return problems
