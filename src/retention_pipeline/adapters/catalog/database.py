"""Opening the catalog database: URL rules, engine settings, and migrations run in code.

Rules this module enforces:

* A relative SQLite path (``sqlite:///catalog.db``) is taken from the installation's
  home (``base_dir``), never from the current directory, so the CLI, the DAGs and the
  tests all find the same file; its folder is created.
* ``postgresql://`` means psycopg 3 (the driver installed), not SQLAlchemy's psycopg2
  default.
* SQLite runs with foreign keys on, WAL (readers do not block the writer), a busy
  timeout, and write transactions that start with ``BEGIN IMMEDIATE`` so two writers
  queue instead of failing half-way with "database is locked".
* Migrations run on first use, inside one transaction that first takes a lock (an
  advisory lock on PostgreSQL, the write lock on SQLite), so two processes opening a new
  catalog at once do not both create it. An up-to-date catalog is only read.
* Opening a catalog that is already at ``HEAD_REVISION`` never imports alembic (about
  0.3 s of a CLI command's start-up): one plain read of ``alembic_version`` decides.
  ``HEAD_REVISION`` is checked against the migration files by a test.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError

from retention_pipeline.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest revision under migrations/versions; bump it with every new migration
# (tests/catalog/test_catalog_head.py fails until it matches).
HEAD_REVISION = "0005"
SQLITE_BEGIN_OPTION = "retention_sqlite_begin"
# Any fixed 64-bit number, shared by every process that migrates this catalog.
_PG_MIGRATION_LOCK = 0x52_45_54_45_4E_54_49_4F
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


# Query parameters that carry a secret (libpq's password=, a driver's ssl key password).
_SECRET_QUERY = frozenset({"password", "passwd", "pwd", "sslpassword", "secret", "token"})


def shown(url: URL) -> str:
    """The URL for a message: its password masked, in the user part or in the query."""
    masked = {k: ("***" if k.lower() in _SECRET_QUERY else v) for k, v in url.query.items()}
    return url.set(query=masked).render_as_string(hide_password=True)


def catalog_url(url: str, base_dir: Path | None = None) -> URL:
    """Parse ``url``, pick the installed driver, and anchor a relative SQLite path."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            "catalog: not a database URL; use sqlite:///catalog.db or postgresql://user@host/dbname"
        ) from exc
    if parsed.drivername in _DRIVERS:
        parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() != "sqlite":
        return parsed
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise ConfigError(
            "catalog: an in-memory SQLite catalog forgets everything at exit; "
            "give a file, e.g. sqlite:///catalog.db"
        )
    path = Path(database).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(database=str(path))


_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}  # after .lower(); "" is no host
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def is_catalog_database(url: str, catalog: str, base_dir: Path | None = None) -> bool:
    """Whether database ``url`` (a restore target, say) is the catalog's own database.

    A relative SQLite path of ``url`` is taken from the current folder (as the dumpers
    take it), the catalog's from ``base_dir``. Local host spellings and default ports
    count as the same server. A URL that does not parse is not the catalog. This only
    catches the usual spellings early; the restore also asks the target itself whether it
    holds a catalog, which no alias of a host or a file escapes.
    """
    try:
        target = make_url(url)
    except ArgumentError:
        return False
    own = catalog_url(catalog, base_dir)
    if _backend(target) != _backend(own):
        return False
    if own.get_backend_name() == "sqlite":
        return (
            Path(target.database or "").expanduser().resolve() == Path(own.database or "").resolve()
        )

    def place(u: URL) -> tuple[str, int | None, str | None]:
        host = (u.host or "").lower()
        host = "localhost" if host in _LOCAL_HOSTS else host
        return host, u.port or _DEFAULT_PORTS.get(_backend(u)), u.database

    return place(target) == place(own)


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    return "postgresql" if name == "postgres" else name


def _sqlite_settings(engine: Engine) -> None:
    """Foreign keys, WAL, and BEGIN emitted by us (see the module docstring)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def create_catalog_engine(url: URL) -> Engine:
    """An engine with the settings of the module docstring."""
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _sqlite_settings(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock at BEGIN."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migration_head() -> str:
    """The newest revision shipped with this code, read from the migration files."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found under {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the catalog is at, or ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _lock_for_migration(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})


class CatalogMissingError(ConfigError):
    """The configured catalog does not exist yet, and this command may not create one."""

    def __init__(self, url: URL) -> None:
        super().__init__(
            f"catalog {shown(url)}: does not exist (no file, "
            "or no catalog tables); nothing was done. A new installation gets its catalog "
            "from `retention-pipeline policy apply`. If this one had a catalog, restore it "
            "from its backup or correct `catalog` in retention.yaml: an empty catalog would "
            "forget every backup and client key"
        )


def unreadable_catalog(url: URL, exc: DatabaseError) -> ConfigError:
    """A ConfigError for a catalog that opened but is not one (driver's first line only)."""
    message = str(exc.orig or exc).strip()
    first = message.splitlines()[0] if message else type(exc).__name__
    return ConfigError(
        f"catalog {shown(url)}: cannot be read as a catalog "
        f"({first}); restore it from its backup, or correct `catalog` in retention.yaml"
    )


def upgrade_catalog(engine: Engine, *, create: bool = True) -> list[str]:
    """Bring the schema to the head revision; return the revisions applied, oldest first.

    ``create=False``: a catalog with no revision at all (a new, empty database) is refused
    with ``CatalogMissingError`` rather than created.
    """
    if _is_at_head(engine):
        return []
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = migration_head()
    with writer(engine).connect() as conn, conn.begin():
        _lock_for_migration(conn)
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return []
        if current is None and not create:
            raise CatalogMissingError(engine.url)
        script = ScriptDirectory(str(MIGRATIONS_DIR))
        if current is not None and current not in {r.revision for r in script.walk_revisions()}:
            raise ConfigError(
                f"catalog schema is at revision {current!r}, newer than this "
                f"retention-pipeline knows (head {head!r}); install the newer version"
            )
        pending = [r.revision for r in script.iterate_revisions(head, current or "base")]
        command.upgrade(_alembic_config(conn), "head")
    return list(reversed(pending))


def _is_at_head(engine: Engine) -> bool:
    """Whether the catalog is already at ``HEAD_REVISION``, by one read (no lock, no alembic).

    Anything else (no table yet, another revision, a read error) goes the locked migration
    path, which re-reads the revision under the lock and reports problems.
    """
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    except OperationalError as exc:
        if "alembic_version" in str(exc.orig or exc):
            return False  # SQLite's "no such table": a new catalog
        raise
    except DatabaseError:
        return False  # e.g. PostgreSQL's undefined table: a new catalog
    return [row[0] for row in rows] == [HEAD_REVISION]


def downgrade_engine(engine: Engine, revision: str) -> None:
    """Step the schema down to ``revision`` (``"base"`` drops every catalog table)."""
    from alembic import command

    with writer(engine).connect() as conn, conn.begin():
        _lock_for_migration(conn)
        command.downgrade(_alembic_config(conn), revision)


def connection_problem(url: URL, exc: OperationalError) -> ConfigError:
    """A ConfigError naming the catalog (password hidden) and the driver's first line."""
    first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc) else ""
    return ConfigError(
        f"catalog {shown(url)}: cannot open it ({first}); "
        "check that the server answers and the catalog URL in retention.yaml"
    )
