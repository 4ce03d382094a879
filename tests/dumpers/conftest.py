"""Source/target database pairs for the dumper tests, one per engine.

Each pair is two empty databases on the same server (two SQLite files for SQLite): the
test fills the first, dumps it and restores into the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import scratch_mariadb_database, scratch_postgres_database

ENGINES = [
    pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"),
    pytest.param("mariadb", marks=pytest.mark.mariadb, id="mariadb"),
    pytest.param("sqlite", id="sqlite"),
]


def _pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "postgresql":
        source = request.getfixturevalue("postgres_url")
        with scratch_postgres_database() as target:
            yield source, target
    elif request.param == "mariadb":
        source = request.getfixturevalue("mariadb_url")
        with scratch_mariadb_database() as target:
            yield source, target
    else:
        yield f"sqlite:///{tmp_path / 'source.db'}", f"sqlite:///{tmp_path / 'target.db'}"


@pytest.fixture(params=ENGINES)
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(source URL, empty target URL) on one engine."""
    yield from _pair(request, tmp_path)


@pytest.fixture(params=ENGINES[:2])
def server_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The same, on the engines that run as servers (several sessions at once)."""
    yield from _pair(request, tmp_path)
