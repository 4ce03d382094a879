"""What every dumper and loader shares: the connection's lifetime and safe error messages.

Driver errors are never passed through: their text can quote a row (``Key (email)=(...)
already exists``) or the connection string. ``failure`` keeps only the endpoint label, the
table, the step and the engine's error code, and the ``from None`` drops the driver
exception from the traceback as well.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from retention_pipeline.adapters.dumpers import Endpoint
from retention_pipeline.ports.source import SourceError


class Session:
    """Base of the adapters: ``with`` support around an idempotent ``close``."""

    endpoint: Endpoint

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
            f"{self.endpoint.label}{where}: {step} failed ({error_code(error)}); "
            "check that the server is up, the database exists and the account may use it"
        )


def error_code(error: BaseException) -> str:
    """The engine's error code without its message: SQLSTATE, MySQL errno or the type."""
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate:
        return f"SQLSTATE {sqlstate}"
    args = getattr(error, "args", ())
    if args and isinstance(args[0], int):
        return f"{type(error).__name__} {args[0]}"
    sqlite_code = getattr(error, "sqlite_errorname", None)
    if sqlite_code:
        return str(sqlite_code)
    return type(error).__name__
