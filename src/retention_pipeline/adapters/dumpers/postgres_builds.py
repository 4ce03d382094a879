"""The index builds of a PostgreSQL restore, on two cores at once.

Why: after the rows are in, a restore spends most of its time building indexes and
re-dumping the tables to verify them. pg_dump's archive adds primary keys and unique
constraints with ``ALTER TABLE ... ADD CONSTRAINT``, whose ACCESS EXCLUSIVE lock would
stop every other session on the table for the whole sort (on a CRM, the e-mail column's
unique index takes about a second per million rows). So a *plain* key or unique
constraint (nothing but its columns: no ``INCLUDE``, ``WITH``, ``DEFERRABLE``...) on a
plain table is built as a unique index of the constraint's own name, which takes only a
SHARE lock, and attached to its constraint at the end (``ADD CONSTRAINT ... USING
INDEX``, instant: the index is already there and the columns are already NOT NULL).

With only SHARE locks taken, the builds can share the tables: the primary keys are built
in the loader's session (the verification re-dump needs them to read in key order) while
a second session (``Builds``) builds the other indexes, and the re-dump starts as soon as
the keys are in, beside whatever is still being built. Tables that are partitioned or
partitions keep pg_dump's own statements, in pg_dump's order: an index attached to a
partitioned one must come from the constraint itself.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from retention_pipeline.adapters.dumpers import pg_tools
from retention_pipeline.ports.source import SchemaSnapshot

# ``pg_get_constraintdef`` of a key or unique constraint with nothing but its columns.
_PLAIN_KEY = re.compile(r"PRIMARY KEY \([^()]*\)")
_PLAIN_UNIQUE = re.compile(r"UNIQUE (NULLS NOT DISTINCT )?\([^()]*\)")
_PARTITIONED = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND (c.relispartition OR c.relkind = 'p')"""


@dataclass(frozen=True)
class Prebuilt:
    """A constraint built as an index first: the index build and the attaching statement.

    ``key``: a primary key (built in the loader's own session, in ``keys``), else a unique
    constraint (built with the other indexes, in the second session).
    """

    build: str
    attach: str
    key: bool


def plain_unique_suffix(definition: str | None) -> str | None:
    """The index suffix (``""`` or ``" NULLS NOT DISTINCT"``) of a plain unique constraint."""
    match = _PLAIN_UNIQUE.fullmatch(definition or "")
    if match is None:
        return None
    return " NULLS NOT DISTINCT" if match.group(1) else ""


def prebuilt(
    conn: psycopg.Connection[Any],
    namespace: str,
    snapshot: SchemaSnapshot,
    entries: Iterable[pg_tools.Entry],
) -> dict[str, Prebuilt]:
    """By the archive's TOC line they replace, the constraints built as indexes first.

    Which tables are partitioned or partitions is read from the target once its tables
    exist, so it holds for any archive.
    """
    partitioned = {name for (name,) in conn.execute(_PARTITIONED, (namespace,))}

    def quoted(name: str) -> str:
        return sql.Identifier(name).as_string(conn)

    wanted: dict[str, Prebuilt] = {}
    for table in snapshot.tables:
        if table.name in partitioned:
            continue
        tid = sql.Identifier(namespace, table.name).as_string(conn)
        found: list[tuple[str, tuple[str, ...], str, str, bool]] = []
        if table.primary_key and _PLAIN_KEY.fullmatch(table.primary_key_definition or ""):
            name = table.primary_key_name or f"{table.name}_pkey"
            found.append((name, table.primary_key, "", "PRIMARY KEY", True))
        for unique in table.uniques:
            if (how := plain_unique_suffix(unique.definition)) is not None:
                found.append((unique.name, unique.columns, how, "UNIQUE", False))
        for name, columns, how, kind, key in found:
            listed = ", ".join(quoted(c) for c in columns)
            wanted[f"{namespace} {table.name} {name} "] = Prebuilt(
                f"CREATE UNIQUE INDEX {quoted(name)} ON {tid} ({listed}){how};\n",
                f"ALTER TABLE ONLY {tid} ADD CONSTRAINT {quoted(name)} {kind} "
                f"USING INDEX {quoted(name)};\n",
                key,
            )
    out: dict[str, Prebuilt] = {}
    for entry in entries:
        if entry.kind != "CONSTRAINT":
            continue
        for prefix, built in wanted.items():  # the owner's name follows the prefix
            if pg_tools.tag(entry).startswith(prefix):
                out[entry.line] = built
    return out


class Builds:
    """A second session running one script of index builds in a thread of its own.

    ``start`` returns at once; ``wait`` returns when the script committed and raises its
    error if it failed; ``close`` cancels a build still running (the restore failed
    elsewhere) and closes the session. The script runs in one transaction, so a failed
    build leaves none of the others behind.
    """

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._thread: threading.Thread | None = None
        self._error: psycopg.Error | None = None

    def start(self, script: str) -> None:
        """Run ``script`` in the background (nothing to run: nothing started)."""
        if not script.strip():
            return
        self._thread = threading.Thread(
            target=self._run, args=(script,), name="restore-builds", daemon=True
        )
        self._thread.start()

    def _run(self, script: str) -> None:
        try:
            with self.conn.transaction():
                self.conn.execute(script)
        except psycopg.Error as error:
            self._error = error

    def wait(self) -> None:
        """Wait for the builds; raise the error that stopped them, if any."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        """Stop what still runs and close the session; idempotent."""
        if self._thread is not None and self._thread.is_alive():
            # closing anyway: the server ends the build with the session
            with suppress(psycopg.Error):
                self.conn.cancel_safe()
            self._thread.join()
        self._thread = None
        if not self.conn.closed:
            self.conn.close()
