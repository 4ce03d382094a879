"""One operation at a time per client: a lock the catalog's database itself keeps.

Why: two erasures of one client at once issued two ``completed`` certificates for one
request, and two backups of one slot both ran. Backup, archive, retention apply and
erase each hold the client's lock for their whole run; a second caller waits up to its
bound, then is refused (``ClientBusyError``) with a message naming the running
operation, its process and since when.

How, per engine (both are released by the operating system or the server when the
holder dies, so a crash never leaves a client locked):

* PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a 64-bit key
  derived from the client id, held by a connection of its own for the whole operation.
  That connection's ``application_name`` says which operation holds it, so the refused
  caller can name it (read from ``pg_stat_activity`` through ``pg_locks``).
* SQLite: an exclusive ``flock`` on ``<catalog file>.locks/<client>.lock``; the file's
  content says which operation holds it (written once the lock is held). A catalog on
  SQLite serves the workers of one machine, which is what ``flock`` covers.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from retention_pipeline.adapters.catalog.transactions import Transactions
from retention_pipeline.ports.catalog import ClientBusyError

_POLL_SECONDS = 0.2
_APP = "retention-pipeline lock"


def lock_key(client_id: str) -> int:
    """The advisory lock key of a client: 64 bits of a hash, signed as bigint wants."""
    digest = hashlib.sha256(f"retention-pipeline/client/{client_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder(operation: str) -> dict[str, Any]:
    return {
        "operation": operation,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _label(operation: str) -> str:
    """``application_name`` of the holding session: 63 bytes at most, so no JSON."""
    return f"{_APP}|{operation}|{os.getpid()}|{socket.gethostname()}"[:63]


def _busy(client_id: str, operation: str, wait: float, holder: dict[str, Any] | None) -> str:
    if holder:
        running = (
            f"{holder.get('operation', 'another operation')} is running (process "
            f"{holder.get('pid', '?')} on {holder.get('host', '?')}, since "
            f"{holder.get('since', '?')})"
        )
    else:
        running = "another operation is running"
    return (
        f"client {client_id!r}: {running}; {operation} waited {wait:g} s and did nothing. "
        "One operation runs at a time per client: run it again once that one ended"
    )


class ClientLocks(Transactions):
    """``client_lock``: see the module docstring."""

    @contextmanager
    def client_lock(self, client_id: str, operation: str, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the client's lock while the block runs; ``ClientBusyError`` after ``wait``
        seconds if another operation holds it."""
        if self.engine.dialect.name == "postgresql":
            with self._advisory(client_id, operation, wait):
                yield
        else:
            with self._flock(client_id, operation, wait):
                yield

    @contextmanager
    def _advisory(self, client_id: str, operation: str, wait: float) -> Iterator[None]:
        key = lock_key(client_id)
        deadline = time.monotonic() + wait
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            name = text("SELECT set_config('application_name', :v, false)")
            conn.execute(name, {"v": _label(operation)})
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                if time.monotonic() >= deadline:
                    raise ClientBusyError(
                        _busy(client_id, operation, wait, self._advisory_holder(conn, key))
                    )
                time.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                with suppress(SQLAlchemyError):  # a dead session has released it already
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.execute(text("RESET application_name"))

    @staticmethod
    def _advisory_holder(conn: Any, key: int) -> dict[str, Any] | None:
        """What the session holding ``key`` said it runs (its ``application_name``)."""
        row = conn.execute(
            text(
                "SELECT a.application_name, a.backend_start FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.objsubid = 1 "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = :k"
            ),
            {"k": key},
        ).first()
        if row is None or not str(row[0]).startswith(f"{_APP}|"):
            return None
        _, operation, pid, host = (str(row[0]).split("|") + ["?"] * 4)[:4]
        since = row[1].astimezone(UTC).isoformat(timespec="seconds") if row[1] else "?"
        return {"operation": operation, "pid": pid, "host": host, "since": since}

    @contextmanager
    def _flock(self, client_id: str, operation: str, wait: float) -> Iterator[None]:
        folder = Path(f"{self.engine.url.database}.locks")
        folder.mkdir(exist_ok=True)
        path = folder / f"{client_id}.lock"
        deadline = time.monotonic() + wait
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = _parsed(path.read_text(encoding="utf-8", errors="replace"))
                        raise ClientBusyError(_busy(client_id, operation, wait, holder)) from None
                    time.sleep(_POLL_SECONDS)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_holder(operation)).encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _parsed(label: str | None) -> dict[str, Any] | None:
    """A holder's description, or ``None`` when there is none that can be read."""
    if not label:
        return None
    try:
        found = json.loads(label)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
