"""The catalog suite runs every test on each engine the catalog supports.

``catalog_url`` is a SQLite file in the test's folder or a fresh database on the real
PostgreSQL server (skipped outside CI when the server is absent, failed under CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline.adapters.catalog import SqlCatalog, open_catalog

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A fixed instant ``minutes`` after ``T0``: tests never read the clock."""
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One catalog database URL per engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/home/catalog.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    """A migrated, empty catalog."""
    with open_catalog(catalog_url) as opened:
        yield opened


@pytest.fixture
def raw(catalog_url: str) -> Iterator[sa.Engine]:
    """A plain engine on the same database, for tampering the way an intruder would."""
    engine = sa.create_engine(catalog_url)
    yield engine
    engine.dispose()
