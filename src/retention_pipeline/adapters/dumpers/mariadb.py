"""MariaDB/MySQL dumper and loader (pymysql), in the ``mariadb-copy-text`` format.

Format: PostgreSQL COPY text lines (``copy_text``) whose values are the server's own text
rendering, read with pymysql's type conversion switched off: DECIMAL stays an exact string,
FLOAT is read widened to DOUBLE (printed as a FLOAT, it keeps only 6 significant digits),
DATETIME/TIMESTAMP are ``YYYY-MM-DD hh:mm:ss[.ffffff]`` in UTC (the session's time zone is
``+00:00``, so TIMESTAMP values do not depend on the server's zone), DATE ``YYYY-MM-DD``,
BOOLEAN is ``0``/``1``, BIT is its number, and BINARY/VARBINARY/BLOB values are bytea hex
text (``\\x0a1b``). Rows are ordered by primary key, else by every column; text sorts by
the column's collation, so equal data on equal schemas gives equal bytes.

Reading uses a server-side cursor (``SSCursor``) read row by row, inside one
``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY``: memory stays bounded by one
row and every table is read as of the same instant. Loading turns off foreign-key and
unique checks for the session and inserts in multi-row batches of at most 1000 rows and
4 MiB of dump text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import replace
from typing import Any

import pymysql
import pymysql.converters
import pymysql.cursors

from retention_pipeline.adapters.dumpers import Endpoint
from retention_pipeline.adapters.dumpers.copy_text import (
    encode_row,
    from_hex_text,
    hex_text,
    parsed_batches,
    rechunk,
)
from retention_pipeline.adapters.dumpers.mariadb_catalog import quote, read_snapshot
from retention_pipeline.adapters.dumpers.mariadb_inventory import read_inventory
from retention_pipeline.adapters.dumpers.mariadb_objects import (
    LaterObject,
    from_native,
    read_objects,
    replay,
    to_native,
    without_missing_definers,
)
from retention_pipeline.adapters.dumpers.session import Session
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

DATA_FORMAT = "mariadb-copy-text"
# ER_NET_PACKET_TOO_LARGE, and the client's "server has gone away" / "lost connection",
# which is how the server answers a statement over max_allowed_packet
_PACKET_ERRNOS = frozenset({1153, 2006, 2013})
BATCH_ROWS = 1000
_BINARY_TYPES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")
# Parameter encoders only: with no decoders, every value arrives as the server's text.
_ENCODERS_ONLY = {k: v for k, v in pymysql.converters.conversions.items() if not isinstance(k, int)}
# Not strict, and invalid dates allowed: a restore must take back whatever the source
# holds, and a CRM running with a lax sql_mode holds ENUM error values ('') and dates such
# as 2024-02-30. A value the target would alter instead of storing is still caught: the
# restore's re-dump compares every table's checksum with the manifest.
_LOAD_MODE = "NO_AUTO_VALUE_ON_ZERO,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION"


def is_binary(column: Column) -> bool:
    """Whether the column holds bytes (written as hex) rather than text."""
    return column.type.lower().split("(")[0] in _BINARY_TYPES


def is_bit(column: Column) -> bool:
    return column.type.lower().startswith("bit")


def is_float(column: Column) -> bool:
    """FLOAT: the server prints it with 6 significant digits, which loses bits."""
    return column.type.lower().startswith("float")


def _selected(column: Column) -> str:
    """The select-list item that renders ``column`` exactly as text."""
    if is_bit(column):
        return f"({quote(column.name)} + 0)"
    if is_float(column):  # a FLOAT widened to DOUBLE is exact, and printed in full
        return f"CAST({quote(column.name)} AS DOUBLE)"
    return quote(column.name)


class _MariaDB(Session):
    engine = "mariadb"

    def __init__(self, endpoint: Endpoint, init: str = "") -> None:
        self.endpoint = endpoint
        try:
            self.conn = pymysql.connect(
                host=endpoint.host or "localhost",
                port=endpoint.port or 3306,
                user=endpoint.user,
                password=endpoint.password or "",
                database=endpoint.database,
                charset="utf8mb4",
                conv=_ENCODERS_ONLY,
                autocommit=True,
                init_command="SET time_zone = '+00:00'" + (f", {init}" if init else ""),
            )
        except pymysql.MySQLError as error:
            raise self.failure("connecting", error) from None
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.conn.close()


class MariaDBDumper(_MariaDB):
    """Reads one consistent snapshot; see the module docstring."""

    data_format = DATA_FORMAT

    def __init__(self, endpoint: Endpoint) -> None:
        # Read under a fixed sql_mode, not the server's: ANSI_QUOTES would quote the
        # CREATE text with "..." (which the restore session reads as strings) and
        # PAD_CHAR_TO_FULL_LENGTH would pad CHAR values; no other mode changes what is read.
        super().__init__(endpoint, "sql_mode = ''")
        try:
            with self.conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        except pymysql.MySQLError as error:
            self.close()
            raise self.failure("starting the snapshot transaction", error) from None

    def server_version(self) -> str:
        with self.conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            return str(cur.fetchone()[0])

    def schema(self) -> SchemaSnapshot:
        try:
            with self.conn.cursor() as cur:
                snapshot = read_snapshot(cur, self.server_version())
                native = to_native(read_objects(cur))
        except pymysql.MySQLError as error:
            raise self.failure("reading the schema", error) from None
        return replace(snapshot, objects=self.inventory(), native=native)

    def inventory(self) -> tuple[SchemaObject, ...]:
        try:
            with self.conn.cursor() as cur:
                return read_inventory(cur)
        except pymysql.MySQLError as error:
            raise self.failure("reading the schema's inventory", error) from None

    def dump_table(self, table: Table) -> Iterator[bytes]:
        return rechunk(self._rows(table))

    def _rows(self, table: Table) -> Iterator[bytes]:
        select = ", ".join(_selected(c) for c in table.columns)
        if table.primary_key:
            order = ", ".join(quote(c) for c in table.primary_key)
        else:
            order = ", ".join(str(i) for i in range(1, len(table.columns) + 1))
        query = f"SELECT {select} FROM {quote(table.name)} ORDER BY {order}"
        try:
            with self.conn.cursor(pymysql.cursors.SSCursor) as cur:
                cur.execute(query)
                # one row at a time off the unbuffered cursor: a batch of rows could hold
                # a thousand large attachments at once
                for row in cur:
                    yield encode_row([_render(v) for v in row])
        except pymysql.MySQLError as error:
            raise self.failure("dumping", error, table.name) from None

    def close(self) -> None:
        if not self._closed:
            with suppress(pymysql.MySQLError):  # closing anyway: the session end rolls back
                self.conn.rollback()
        super().close()


def _render(value: str | bytes | None) -> bytes | None:
    """A value as the server sent it: text to UTF-8, bytes (binary columns) to hex text."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return hex_text(value)
    return value.encode("utf-8")


class MariaDBLoader(_MariaDB):
    """Writes into an empty database; every step is its own transaction."""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__(
            endpoint, f"FOREIGN_KEY_CHECKS = 0, UNIQUE_CHECKS = 0, sql_mode = '{_LOAD_MODE}'"
        )
        self._skipped: list[str] = []

    def is_empty(self) -> bool:
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                )
                return int(cur.fetchone()[0]) == 0
        except pymysql.MySQLError as error:
            raise self.failure("checking the target", error) from None

    def has_table(self, name: str) -> bool:
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                    (name,),
                )
                return int(cur.fetchone()[0]) > 0
        except pymysql.MySQLError as error:
            raise self.failure("checking the target", error) from None

    def clear(self) -> None:
        """Drop every table, view, routine and event of the target (``restore --force``)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = DATABASE()"
                )
                for name, kind in cur.fetchall():
                    what = "VIEW" if kind == "VIEW" else "TABLE"
                    cur.execute(f"DROP {what} IF EXISTS {quote(name)}")
                cur.execute(
                    "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES "
                    "WHERE ROUTINE_SCHEMA = DATABASE()"
                )
                for kind, name in cur.fetchall():
                    cur.execute(f"DROP {kind} IF EXISTS {quote(name)}")
                cur.execute(
                    "SELECT EVENT_NAME FROM information_schema.EVENTS "
                    "WHERE EVENT_SCHEMA = DATABASE()"
                )
                for (name,) in cur.fetchall():
                    cur.execute(f"DROP EVENT IF EXISTS {quote(name)}")
        except pymysql.MySQLError as error:
            raise self.failure("emptying the target", error) from None

    def create_schema(
        self, snapshot: SchemaSnapshot, *, phase: Phase, options: RestoreOptions = APPLY_ALL
    ) -> None:
        self.refuse_unsafe_target(snapshot, phase, self.is_empty)
        # keys and indexes are part of each CREATE TABLE (InnoDB clusters rows by primary
        # key), so the ``keys`` and ``indexes`` phases have nothing left to do here
        statements: list[str] = []
        if phase == "tables":
            statements = [t.create_sql or "" for t in snapshot.tables]
        elif phase == "constraints":
            statements = [
                f"ALTER TABLE {quote(fk.table)} ADD {fk.definition}" for fk in snapshot.foreign_keys
            ]
        try:
            with self.conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
                if phase == "objects":
                    self._later_objects(cur, from_native(snapshot.native), options)
        except pymysql.MySQLError as error:
            raise self.failure(f"creating the schema ({phase})", error) from None

    def _later_objects(self, cur: Any, objects: list[LaterObject], options: RestoreOptions) -> None:
        """Routines, views, triggers, events (``mariadb_objects``), each in its own session
        settings; the loader's settings are put back afterwards."""
        if not objects:
            return
        cur.execute(
            "SELECT @@sql_mode, @@character_set_client, @@collation_connection, @@time_zone"
        )
        saved = cur.fetchone()

        def create(obj: LaterObject) -> str:
            text, dropped = without_missing_definers(
                obj, self._account_exists, owners=options.owners
            )
            if dropped is not None:
                self._skipped.append(dropped)
            return text

        try:
            replay(cur, objects, create)
        finally:
            cur.execute(
                "SET SESSION sql_mode = %s, character_set_client = %s, "
                "collation_connection = %s, time_zone = %s",
                saved,
            )

    def _account_exists(self, user: str, host: str) -> bool:
        """Whether the target knows the account (unreadable grant tables: treated as no)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s", (user, host)
                )
                return int(cur.fetchone()[0]) > 0
        except pymysql.MySQLError:
            return False

    def skipped(self) -> tuple[str, ...]:
        return tuple(self._skipped)

    def load_table(self, table: Table, chunks: Iterable[bytes]) -> None:
        names = ", ".join(quote(c.name) for c in table.columns)
        marks = ", ".join(["%s"] * len(table.columns))
        # pymysql %-formats the statement with the parameters: a % in a name is doubled
        target = f"{quote(table.name)} ({names})".replace("%", "%%")
        statement = f"INSERT INTO {target} VALUES ({marks})"
        parsers = [_parser(c) for c in table.columns]
        try:
            self.conn.begin()
            with self.conn.cursor() as cur:
                for batch in parsed_batches(chunks, parsers, BATCH_ROWS):
                    cur.executemany(statement, batch)
            self.conn.commit()
        except pymysql.MySQLError as error:
            with suppress(pymysql.MySQLError):  # its message must not replace the code below
                self.conn.rollback()
            if error.args and error.args[0] in _PACKET_ERRNOS:
                raise SourceError(
                    f"{self.endpoint.label}, table {table.name}: loading failed (errno "
                    f"{error.args[0]}): the server refused or dropped a statement, most often "
                    "a row larger than its max_allowed_packet (a binary value is sent as hex, "
                    "twice its size); raise it on the target (SET GLOBAL max_allowed_packet = "
                    "1073741824) and restore again with --force"
                ) from None
            raise self.failure("loading", error, table.name) from None

    def set_sequences(self, snapshot: SchemaSnapshot) -> None:
        try:
            with self.conn.cursor() as cur:
                for seq in snapshot.sequences:
                    cur.execute(f"ALTER TABLE {quote(seq.name)} AUTO_INCREMENT = {int(seq.value)}")
        except pymysql.MySQLError as error:
            raise self.failure("setting AUTO_INCREMENT counters", error) from None


def _parser(column: Column) -> Any:
    """How one field's unescaped bytes become an INSERT parameter for ``column``."""
    if is_binary(column):
        return from_hex_text
    if is_bit(column):
        return int
    return lambda raw: raw.decode("utf-8")
