"""Dumpers and loaders of clients' CRM databases: PostgreSQL, MariaDB/MySQL and SQLite.

``open_dumper(url)`` and ``open_loader(url)`` choose the adapter by the URL's scheme
(SQLAlchemy spelling, so the same connection URL serves the catalog and the dumpers):
``postgresql://``, ``postgresql+psycopg://``, ``mysql://``, ``mysql+pymysql://``,
``mariadb://``, ``sqlite:///path``. The URL can hold a password, so it never appears in an
error or a log line: errors name the engine and host (``Endpoint.label``) only.

They live here rather than in ``ports.source`` because choosing an adapter is wiring, and
ports never import adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from retention_pipeline.errors import ConfigError
from retention_pipeline.ports.source import Dumper, Loader

_SCHEMES = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mariadb",
    "mariadb": "mariadb",
    "sqlite": "sqlite",
}


@dataclass(frozen=True)
class Endpoint:
    """A parsed database URL; ``repr`` and ``label`` hide the password."""

    engine: str
    host: str | None
    port: int | None
    user: str | None
    password: str | None = field(repr=False)
    database: str | None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What errors may say about this endpoint: engine and host, nothing else."""
        if self.engine == "sqlite":
            return "sqlite database file"
        return f"{self.engine} database on host {self.host or 'localhost'}"


def parse_url(url: str) -> Endpoint:
    """Parse ``url`` without ever echoing it; ``ConfigError`` for an unknown scheme."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy's message quotes the URL: drop it
        raise ConfigError(
            "a database URL could not be parsed; write it as scheme://user:password@host/db "
            "(postgresql, mysql, mariadb) or sqlite:///path"
        ) from None
    backend = parsed.drivername.split("+", 1)[0]
    engine = _SCHEMES.get(backend)
    if engine is None:
        raise ConfigError(
            f"database URL scheme {backend!r} is not supported; use postgresql://, "
            "mysql://, mariadb:// or sqlite:///path"
        )
    query = {k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()}
    return Endpoint(
        engine=engine,
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        query=query,
    )


# Host spellings that reach this machine's server (after .lower(); "" is no host, and a
# PostgreSQL host starting with "/" is the folder of a local Unix socket).
_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
_DEFAULT_PORTS = {"postgresql": 5432, "mariadb": 3306}


def same_database(a: str, b: str) -> bool:
    """Whether URLs ``a`` and ``b`` name the same database, however each is spelled.

    Compares what the adapters connect to, not the strings: SQLite files by resolved path
    (relative paths from the current folder, as the adapters take them; the same file
    through a link too), servers by engine (``mysql`` is ``mariadb``), host (the local
    spellings, and PostgreSQL's ``?host=`` socket folder, are one), port (the engine's
    default when absent) and database name. Users and passwords do not matter: two
    roles on one database are one database. A URL that does not parse names nothing.
    """
    try:
        one, other = parse_url(a), parse_url(b)
    except ConfigError:
        return False
    if one.engine != other.engine:
        return False
    if one.engine == "sqlite":
        file = _sqlite_file(one)
        return file is not None and file == _sqlite_file(other)
    return _server_place(one) == _server_place(other)


def _sqlite_file(endpoint: Endpoint) -> tuple[int, int] | str | None:
    """The file's identity (device, inode) when it exists, else its resolved path."""
    from pathlib import Path

    name = endpoint.database or ""
    if name in ("", ":memory:"):
        return None  # a private in-memory database is nobody's source
    path = Path(name).expanduser().resolve()
    try:
        found = path.stat()
    except OSError:
        return str(path)
    return found.st_dev, found.st_ino


def _server_place(endpoint: Endpoint) -> tuple[str, int | None, str | None]:
    query = endpoint.query if endpoint.engine == "postgresql" else {}
    host = (query.get("host") or endpoint.host or "").lower()
    if host in _LOCAL_HOSTS or host.startswith("/"):
        host = "localhost"
    port = str(query.get("port") or endpoint.port or _DEFAULT_PORTS.get(endpoint.engine, ""))
    database = query.get("dbname") or endpoint.database
    if endpoint.engine == "postgresql" and not database:
        database = query.get("user") or endpoint.user  # libpq's default database
    return host, int(port) if port.isdigit() else None, database


def open_dumper(url: str) -> Dumper:
    """A dumper reading one consistent snapshot of the database at ``url``."""
    endpoint = parse_url(url)
    return _adapters(endpoint.engine)[0](endpoint)


def open_loader(url: str) -> Loader:
    """A loader writing into the (empty) database at ``url``."""
    endpoint = parse_url(url)
    return _adapters(endpoint.engine)[1](endpoint)


def _adapters(engine: str) -> tuple[Callable[[Endpoint], Dumper], Callable[[Endpoint], Loader]]:
    """The dumper and loader classes of ``engine`` (one of ``_SCHEMES``' values).

    Imported on demand so that a deployment with one engine needs only that driver.
    """
    if engine == "postgresql":
        from retention_pipeline.adapters.dumpers.postgres import PostgresDumper, PostgresLoader

        return PostgresDumper, PostgresLoader
    if engine == "mariadb":
        from retention_pipeline.adapters.dumpers.mariadb import MariaDBDumper, MariaDBLoader

        return MariaDBDumper, MariaDBLoader
    from retention_pipeline.adapters.dumpers.sqlite import SQLiteDumper, SQLiteLoader

    return SQLiteDumper, SQLiteLoader
