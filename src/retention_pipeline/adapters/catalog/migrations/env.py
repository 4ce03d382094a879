"""Alembic environment for the catalog.

``open_catalog`` runs migrations in code and hands its own connection over through
``config.attributes["connection"]``, so the engine settings (SQLite foreign keys, WAL,
``BEGIN IMMEDIATE``) apply to migrations too. A developer running the ``alembic`` CLI
instead sets ``sqlalchemy.url`` in the config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from retention_pipeline.adapters.catalog.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    """Run the pending revisions on ``connection`` in one transaction."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    """Use the caller's connection when given, else ``sqlalchemy.url``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url, or run migrations through open_catalog()")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            run_on(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported for the catalog")
run()
