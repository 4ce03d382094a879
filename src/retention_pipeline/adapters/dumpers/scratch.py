"""Scratch databases for restore drills: created empty, always dropped after.

A restore drill proves that a recovery point loads into the engine it came from, so the
scratch database lives where the source lives: a SQLite file in a temporary folder for a
SQLite source, a new database on the same PostgreSQL or MariaDB server (with the source
connection's credentials) otherwise. Rules this module keeps:

* the scratch database has a fresh name (``rp_drill_<random>``) that no client database
  uses, and it is dropped on every exit path, a failed drill included;
* no URL, password or database content ever reaches an exception message: errors name the
  engine and host only (``Endpoint.label``).

It is I/O on database servers, so it stands beside ``bootstrap`` at the entry-point layer
and imports SQLAlchemy lazily; its natural home is ``adapters/dumpers`` (kept out of it
only because that package belongs to another change).
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from retention_pipeline.adapters.dumpers import Endpoint, parse_url
from retention_pipeline.errors import RetentionError

# The driver used for CREATE/DROP DATABASE, per engine (the ones installed with the project).
ADMIN_DRIVERS = {"postgresql": "postgresql+psycopg", "mariadb": "mysql+pymysql"}


class ScratchDatabaseError(RetentionError):
    """A scratch database could not be created on the source's server."""


def scratch_name() -> str:
    """A database name no client uses: a fixed prefix and 12 random hex digits."""
    return f"rp_drill_{secrets.token_hex(6)}"


@contextmanager
def scratch_database(source_url: str) -> Iterator[str]:
    """Yield the URL of an empty database of the source's engine; drop it on exit."""
    endpoint = parse_url(source_url)
    if endpoint.engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="retention-drill-") as folder:
            yield f"sqlite:///{Path(folder) / 'drill.db'}"
        return
    yield from _server_scratch(source_url, endpoint)


def _server_scratch(source_url: str, endpoint: Endpoint) -> Iterator[str]:
    """Create a database beside the source's, yield its URL, drop it whatever happened."""
    from sqlalchemy.engine import make_url

    name = scratch_name()
    admin = _admin_engine(source_url, endpoint)
    try:
        _execute(admin, endpoint, _create_sql(endpoint.engine, name), "create")
        try:
            url = make_url(source_url).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            _execute(admin, endpoint, _drop_sql(endpoint.engine, name), "drop")
    finally:
        admin.dispose()


def _admin_engine(source_url: str, endpoint: Endpoint) -> Any:
    """An autocommit engine on the source database (CREATE DATABASE runs outside a transaction)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    url = make_url(source_url).set(drivername=ADMIN_DRIVERS[endpoint.engine])
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_sql(engine: str, name: str) -> str:
    if engine == "postgresql":
        return f'CREATE DATABASE "{name}"'
    return f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"


def _drop_sql(engine: str, name: str) -> str:
    if engine == "postgresql":
        return f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    return f"DROP DATABASE IF EXISTS `{name}`"


def _execute(admin: Any, endpoint: Endpoint, sql: str, verb: str) -> None:
    """Run one administrative statement; the driver's message (it may quote the URL) is dropped."""
    import sqlalchemy as sa

    try:
        with admin.connect() as connection:
            connection.execute(sa.text(sql))
    except sa.exc.SQLAlchemyError as error:
        raise ScratchDatabaseError(
            f"could not {verb} a scratch database on the {endpoint.label} "
            f"({type(error).__name__}); the source connection's user needs the right to "
            "create and drop databases for restore drills"
        ) from None
