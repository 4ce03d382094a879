"""What every dumper and loader shares: the connection's lifetime and safe error messages.

Loaders also share ``refuse_unsafe_target``: a restore never mixes engines and never
writes its tables into a target that already holds some.

Driver errors are never passed through: their text can quote a row (``Key (email)=(...)
already exists``) or the connection string. ``failure`` keeps only the endpoint label, the
table, the step and the engine's error code, and the ``from None`` drops the driver
exception from the traceback as well.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

from retention_pipeline.adapters.dumpers import Endpoint
from retention_pipeline.errors import RefusedError
from retention_pipeline.ports.source import Phase, SchemaSnapshot, SourceError


class Session:
    """Base of the adapters: ``with`` support around an idempotent ``close``."""

    endpoint: Endpoint
    engine: str

    def close(self) -> None:
        """Release the connection; subclasses end their transaction first."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def failure(self, step: str, error: BaseException, table: str | None = None) -> SourceError:
        """A ``SourceError`` for ``step`` that names no URL and no data; raise it ``from None``."""
        where = f", table {table}" if table else ""
        return SourceError(
            f"{self.endpoint.label}{where}: {step} failed ({error_code(error)}); {remedy(error)}"
        )

    def refuse_unsafe_target(
        self,
        snapshot: SchemaSnapshot,
        phase: Phase,
        is_empty: Callable[[], bool],
        *,
        target: str = "the target database",
        remedy: str = "restore into an empty database",
    ) -> None:
        """Refuse a dump of another engine, or a ``tables`` phase into a non-empty target.

        Replaying DDL of another engine fails half-way, and loading into existing tables
        mixes a client's restored rows with whatever was there: both are refused before any
        statement runs. ``is_empty`` is only asked in the ``tables`` phase (the later phases
        run after this restore's own tables exist).
        """
        if snapshot.engine != self.engine:
            raise RefusedError(
                f"{self.endpoint.label}: the dump is of a {snapshot.engine} database; "
                "restore it into a database of the same engine"
            )
        if phase == "tables" and not is_empty():
            raise RefusedError(f"{self.endpoint.label}: {target} is not empty; {remedy}")


def _codes(error: BaseException) -> tuple[str | None, int | None, str | None]:
    """The error's codes, whichever driver raised it: SQLSTATE, MySQL errno, SQLite name."""
    args = getattr(error, "args", ())
    errno = args[0] if args and isinstance(args[0], int) else None
    return getattr(error, "sqlstate", None), errno, getattr(error, "sqlite_errorname", None)


def error_code(error: BaseException) -> str:
    """The engine's error code without its message: SQLSTATE, MySQL errno or the type."""
    sqlstate, errno, sqlite_code = _codes(error)
    if sqlstate:
        return f"SQLSTATE {sqlstate}"
    if errno is not None:
        return f"{type(error).__name__} {errno}"
    if sqlite_code:
        return str(sqlite_code)
    return type(error).__name__


# Errors about reaching the database rather than about what was sent to it: SQLSTATE
# classes (connection, authorization, unknown database, resources, shutdown, privilege),
# MySQL client and server errnos, SQLite result codes.
_REACH_SQLSTATES = ("08", "28", "3D", "53", "57", "42501")
_REACH_ERRNOS = frozenset({1044, 1045, 1049, 1142, 2002, 2003, 2005, 2006, 2013})
_REACH_SQLITE = frozenset(
    {"SQLITE_CANTOPEN", "SQLITE_NOTADB", "SQLITE_PERM", "SQLITE_READONLY", "SQLITE_BUSY"}
)


def remedy(error: BaseException) -> str:
    """What to check, told apart by the error's code (the message may quote a value)."""
    sqlstate, errno, sqlite_code = _codes(error)
    if (
        (sqlstate or "").startswith(_REACH_SQLSTATES)
        or errno in _REACH_ERRNOS
        or sqlite_code in _REACH_SQLITE
        or not (sqlstate or errno or sqlite_code)
    ):
        return "check that the server is up, the database exists and the account may use it"
    return (
        "the server refused what was sent; look the code up in the engine's documentation "
        "(its message is not shown, as it may quote a value), and check that the target "
        "runs the same engine version as the source"
    )
