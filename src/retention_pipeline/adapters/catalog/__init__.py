"""The catalog adapter: the ``Catalog`` port on SQLAlchemy (SQLite or PostgreSQL).

``open_catalog`` is the entry point: it turns the configured URL into an engine with
the right settings, brings the schema to the newest migration on first use, and returns
a ``SqlCatalog``. ``downgrade_catalog`` and ``migration_head`` serve tests and upgrades.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import DatabaseError, OperationalError

from retention_pipeline.adapters.catalog.database import (
    CatalogMissingError,
    catalog_url,
    connection_problem,
    create_catalog_engine,
    downgrade_engine,
    migration_head,
    unreadable_catalog,
    upgrade_catalog,
)
from retention_pipeline.adapters.catalog.sql_catalog import SqlCatalog

__all__ = [
    "CatalogMissingError",
    "SqlCatalog",
    "downgrade_catalog",
    "migration_head",
    "open_catalog",
]


def open_catalog(url: str, *, base_dir: Path | None = None, create: bool = True) -> SqlCatalog:
    """Open the catalog at ``url``, migrating it to the newest schema if needed.

    A relative SQLite path is taken from ``base_dir`` (the installation home). The
    returned catalog's ``applied_revisions`` says what this call migrated (empty when
    the catalog was already current). Call ``close()`` when done.

    ``create=False`` refuses a catalog that does not exist yet (no SQLite file, no tables)
    instead of making an empty one: an installation whose catalog file was deleted or
    whose URL was mistyped must stop, not carry on with a catalog that forgot every
    backup and key (see ``CatalogMissingError``).
    """
    parsed = catalog_url(url, base_dir)
    sqlite_file = Path(parsed.database or "") if parsed.get_backend_name() == "sqlite" else None
    if not create and sqlite_file is not None and not sqlite_file.exists():
        raise CatalogMissingError(parsed)
    engine = create_catalog_engine(parsed)
    try:
        applied = upgrade_catalog(engine, create=create)
    except OperationalError as exc:
        engine.dispose()
        raise connection_problem(parsed, exc) from None
    except DatabaseError as exc:  # a file that is not a database, a damaged schema
        engine.dispose()
        raise unreadable_catalog(parsed, exc) from None
    except BaseException:
        engine.dispose()
        raise
    return SqlCatalog(engine, applied)


def downgrade_catalog(url: str, revision: str, *, base_dir: Path | None = None) -> None:
    """Step the catalog at ``url`` down to ``revision`` (``"base"``: drop every table)."""
    parsed = catalog_url(url, base_dir)
    engine = create_catalog_engine(parsed)
    try:
        downgrade_engine(engine, revision)
    finally:
        engine.dispose()
