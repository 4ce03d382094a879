"""The catalog's transactions: one per public method, writes serialized on SQLite.

Reads use the plain engine (SQLite ``BEGIN DEFERRED``: WAL lets them run beside a
writer). Writes use ``database.writer`` (SQLite ``BEGIN IMMEDIATE``: the write lock is
taken first, so a writer never fails half-way when another one commits). A constraint
violation that a race lets through the checks inside the transaction surfaces as
``ConflictError``, never as a driver exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Self, TypeVar

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retention_pipeline.adapters.catalog.database import writer
from retention_pipeline.adapters.catalog.models import Base
from retention_pipeline.errors import NotFoundError
from retention_pipeline.ports.catalog import ConflictError

RowT = TypeVar("RowT", bound=Base)


class Transactions:
    """Engine ownership and the read/write transaction helpers the catalog is built on."""

    def __init__(self, engine: Engine, applied_revisions: Iterable[str] = ()) -> None:
        self.engine = engine
        # Revisions the opening of this catalog applied (empty: it was up to date).
        self.applied_revisions = tuple(applied_revisions)
        self._writer = writer(engine)

    def close(self) -> None:
        """Return every pooled connection; the catalog must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        try:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise ConflictError(
                "catalog: the record conflicts with one written at the same time "
                f"({type(exc.orig).__name__}); read the current state and retry"
            ) from None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine) as session, session.begin():
            yield session

    @staticmethod
    def _locked(session: Session, model: type[RowT], key: str, missing: str) -> RowT:
        """The row with primary key ``key``, locked until the transaction ends (``SELECT
        ... FOR UPDATE``: a concurrent change of the same row waits); ``missing`` is the
        ``NotFoundError`` message when there is none."""
        column = inspect(model).primary_key[0]
        query = select(model).where(column == key).with_for_update()
        row = session.scalars(query).one_or_none()
        if row is None:
            raise NotFoundError(missing)
        return row

    @staticmethod
    def _need(session: Session, model: type[RowT], key: str, what: str, hint: str) -> RowT:
        """The row with primary key ``key``, or ``NotFoundError`` naming it and what to do."""
        row = session.get(model, key)
        if row is None:
            raise NotFoundError(f"{what} {key!r} is not in the catalog; {hint}")
        return row
