"""SQLite dumper and loader (stdlib ``sqlite3``), in the ``sqlite-copy-text`` format.

Format: PostgreSQL COPY text lines (``copy_text``). Values are rendered by storage class:
INTEGER as decimal digits, REAL as Python's shortest round-trip ``repr``, TEXT as its
UTF-8 bytes, BLOB as bytea hex text (``\\x0a1b``), NULL as ``\\N``. SQLite stores
timestamps and decimals as whatever the application wrote (usually ISO-8601 text), and the
dump keeps them as they are.

SQLite types values per row, not per column, so the loader gives each field back its
storage class: in a TEXT column every field is text (SQLite stores numbers there as
text); in any other column (INTEGER, REAL, NUMERIC, BLOB or untyped) ``\\x`` hex becomes a
BLOB and a field that is exactly a rendered integer or float becomes a number. The cases
this cannot tell apart (a BLOB kept in a TEXT column, a text that reads like a number or
like hex in another column) are listed in ``docs/dump-formats.md``.

Schema: the ``CREATE`` statements of ``sqlite_master`` are replayed as written: tables,
then the rows, then indexes, then views and triggers in their creation order and the
header fields ``user_version`` and ``application_id`` (an application's own schema
version). A table with a hidden row id (no INTEGER PRIMARY KEY) carries it as the first
field of each row, since applications and foreign keys may refer to it. Virtual tables
are refused by name. The dump reads in one read transaction, so every table is seen as
of the same instant.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from retention_pipeline.adapters.dumpers import Endpoint
from retention_pipeline.adapters.dumpers.copy_text import (
    encode_row,
    from_hex_text,
    hex_text,
    parsed_batches,
    rechunk,
)
from retention_pipeline.adapters.dumpers.session import Session
from retention_pipeline.adapters.dumpers.sqlite_catalog import (
    HEADER,
    OBJECTS,
    native_parts,
    quote,
    read_inventory,
    read_snapshot,
)
from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.source import (
    APPLY_ALL,
    Column,
    Phase,
    RestoreOptions,
    SchemaObject,
    SchemaSnapshot,
    SourceError,
    Table,
)

DATA_FORMAT = "sqlite-copy-text"
BATCH_ROWS = 1000
_INT = re.compile(rb"-?[0-9]+")


class _SQLite(Session):
    engine = "sqlite"

    def __init__(self, endpoint: Endpoint, *, read_only: bool) -> None:
        self.endpoint = endpoint
        if not endpoint.database or endpoint.database == ":memory:":
            raise ConfigError("a sqlite URL must name a database file: sqlite:///path/to/file")
        path = Path(endpoint.database).resolve()
        if read_only and not path.is_file():
            raise SourceError(f"{endpoint.label}: the file does not exist; check the path")
        mode = "ro" if read_only else "rwc"
        # SQLite creates a missing file as it opens it; a loader that then writes nothing
        # (its restore was refused) removes that empty file again on close
        self._created = None if read_only or path.exists() else path
        try:
            self.conn = sqlite3.connect(
                f"{path.as_uri()}?mode={mode}",
                uri=True,
                isolation_level=None,  # transactions are explicit
                check_same_thread=False,  # a dump may be read by another (single) thread
            )
        except sqlite3.Error as error:
            raise self.failure("opening", error) from None
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self.conn.in_transaction:
                with suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            self.conn.close()
            created = self._created
            if created is not None and created.is_file() and created.stat().st_size == 0:
                created.unlink()


class SQLiteDumper(_SQLite):
    """Reads one consistent snapshot; see the module docstring."""

    data_format = DATA_FORMAT

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint, read_only=True)
        self.conn.execute("BEGIN")  # the first read below takes the snapshot

    def server_version(self) -> str:
        return sqlite3.sqlite_version

    def schema(self) -> SchemaSnapshot:
        try:
            snapshot = read_snapshot(self.conn, self.server_version())
            native = native_parts(self.conn)
        except sqlite3.Error as error:
            raise self.failure("reading the schema", error) from None
        return replace(snapshot, objects=self.inventory(), native=native)

    def inventory(self) -> tuple[SchemaObject, ...]:
        try:
            return read_inventory(self.conn)
        except sqlite3.Error as error:
            raise self.failure("reading the schema's inventory", error) from None

    def dump_table(self, table: Table) -> Iterator[bytes]:
        return rechunk(self._rows(table))

    def _rows(self, table: Table) -> Iterator[bytes]:
        select = ", ".join(_names(table))
        if table.primary_key:
            order = ", ".join(quote(c) for c in table.primary_key)
        else:  # every column, then the row id where there is one: a total order
            first = 2 if table.rowid else 1
            order = ", ".join(str(i) for i in range(first, len(table.columns) + first))
            if table.rowid:
                order += ", 1"
        try:
            cur = self.conn.execute(f"SELECT {select} FROM {quote(table.name)} ORDER BY {order}")
            for row in cur:  # one at a time: rows may hold large attachments
                yield encode_row([_render(v) for v in row])
        except sqlite3.OperationalError as error:
            if str(error).startswith("Could not decode to UTF-8"):  # the rest quotes it
                raise SourceError(
                    f"table {table.name}: a text value is not valid UTF-8, which the SQLite "
                    "dumper cannot carry as text; store it as a BLOB (CAST(... AS BLOB)) or "
                    "correct it, then back up again"
                ) from None
            raise self.failure("dumping", error, table.name) from None
        except sqlite3.Error as error:
            raise self.failure("dumping", error, table.name) from None


def _names(table: Table) -> list[str]:
    """The fields of a table's dump: its hidden row id first where it has one."""
    names = [quote(c.name) for c in table.columns]
    return [table.rowid, *names] if table.rowid else names


def _render(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return hex_text(value)
    return repr(value).encode("ascii")  # int, or float in shortest round-trip form


class SQLiteLoader(_SQLite):
    """Writes into an empty database file (created if missing); one transaction per step."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(endpoint, read_only=False)

    def is_empty(self) -> bool:
        try:
            row = self.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            ).fetchone()
        except sqlite3.Error as error:  # not a database file, or unreadable
            raise self.failure("checking the target", error) from None
        return bool(row[0] == 0)

    def has_table(self, name: str) -> bool:
        try:
            row = self.conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        except sqlite3.Error as error:
            raise self.failure("checking the target", error) from None
        return bool(row[0])

    def clear(self) -> None:
        """Drop every table, view and index of the target file (``restore --force``)."""
        try:
            rows = self.conn.execute(
                "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            ).fetchall()
        except sqlite3.Error as error:
            raise self.failure("emptying the target", error) from None
        self.conn.execute("PRAGMA foreign_keys = OFF")
        self._in_transaction(
            "emptying the target",
            [
                f'DROP {kind.upper()} IF EXISTS "{name.replace(chr(34), chr(34) * 2)}"'
                for kind, name in rows
            ],
        )

    def create_schema(
        self, snapshot: SchemaSnapshot, *, phase: Phase, options: RestoreOptions = APPLY_ALL
    ) -> None:
        self.refuse_unsafe_target(
            snapshot, phase, self.is_empty, remedy="restore into a new, empty file"
        )
        # keys live in each CREATE TABLE; indexes wait for the ``constraints`` phase: in
        # SQLite's default journal mode their commit would wait on the verification's read
        statements: list[str] = []
        if phase == "tables":
            statements = [t.create_sql or "" for t in snapshot.tables]
        elif phase == "constraints":
            statements = [i.definition or "" for i in snapshot.indexes]
        elif phase == "objects":
            statements = [sql for _, _, sql in json.loads(snapshot.native.get(OBJECTS, "[]"))]
            header = json.loads(snapshot.native.get(HEADER, "{}"))
            statements += [f"PRAGMA {p} = {int(header[p])}" for p in sorted(header)]
        self._in_transaction(f"creating the schema ({phase})", statements)

    def _rollback(self) -> None:
        """Undo the step; a failure here must not replace the step's own error."""
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def _in_transaction(self, step: str, statements: list[str]) -> None:
        try:
            self.conn.execute("BEGIN")
            for statement in statements:
                self.conn.execute(statement)
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise self.failure(step, error) from None

    def skipped(self) -> tuple[str, ...]:
        return ()  # owners and grants are not carried by this loader yet

    def load_table(self, table: Table, chunks: Iterable[bytes]) -> None:
        names = _names(table)
        marks = ", ".join(["?"] * len(names))
        statement = f"INSERT INTO {quote(table.name)} ({', '.join(names)}) VALUES ({marks})"
        parsers = [_parser(c) for c in table.columns]
        if table.rowid:
            parsers.insert(0, int)
        try:
            self.conn.execute("BEGIN")
            for batch in parsed_batches(chunks, parsers, BATCH_ROWS):
                self.conn.executemany(statement, batch)
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise self.failure("loading", error, table.name) from None

    def set_sequences(self, snapshot: SchemaSnapshot) -> None:
        try:
            self.conn.execute("BEGIN")
            for seq in snapshot.sequences:
                cur = self.conn.execute(
                    "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (seq.value, seq.name)
                )
                if cur.rowcount == 0:
                    self.conn.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                        (seq.name, seq.value),
                    )
            self.conn.execute("COMMIT")
        except sqlite3.Error as error:
            self._rollback()
            raise self.failure("setting AUTOINCREMENT counters", error) from None


def affinity(declared: str) -> str:
    """SQLite's column affinity rules (section 3.1 of "Datatypes In SQLite")."""
    upper = declared.upper()
    if "INT" in upper:
        return "INTEGER"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if not upper or "BLOB" in upper:
        return "BLOB"
    if any(word in upper for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _parser(column: Column) -> Callable[[bytes], Any]:
    """How a field's unescaped bytes become the value SQLite stored (module docstring).

    A TEXT column holds text (SQLite turns numbers stored there into text). Any other
    column may hold any storage class, so a field is given back the one its rendering
    shows: a binary value is a BLOB, the exact rendering of a number a number, anything
    else TEXT.
    """
    if affinity(column.type) == "TEXT":
        return _text
    return _stored_value


def _text(raw: bytes) -> str:
    return raw.decode("utf-8")


def _stored_value(raw: bytes) -> bytes | int | float | str:
    with suppress(ValueError):
        return from_hex_text(raw)
    return _number_or_text(raw)


def _number_or_text(raw: bytes) -> int | float | str:
    """Only the exact renderings of numbers become numbers; anything else stays text.

    ``nan`` stays text: SQLite stores no NaN (a REAL NaN becomes NULL), so a field that
    reads ``nan`` was the text 'nan'.
    """
    # exact renderings only: '01234' or '-0' in a column without a type are text
    if _INT.fullmatch(raw) and -(2**63) <= (whole := int(raw)) < 2**63 and b"%d" % whole == raw:
        return whole
    text = raw.decode("utf-8")
    with suppress(ValueError):
        number = float(text)
        if repr(number) == text and not math.isnan(number):
            return number
    return text
