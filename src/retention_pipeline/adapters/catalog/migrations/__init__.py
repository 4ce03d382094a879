"""Alembic migrations of the catalog, run in code by ``open_catalog`` (no alembic.ini)."""
