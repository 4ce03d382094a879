"""Fixtures shared by every test folder: real servers, moto, and a scratch home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.moto import MotoEndpoint, moto_server
from tests.support.services import scratch_mariadb_database, scratch_postgres_database

# Property tests check behaviour, not speed: on a loaded 2-core CI machine a per-example
# deadline only produces flaky failures (speed belongs to benchmarks/).
settings.register_profile("retention", deadline=None)
settings.load_profile("retention")


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEndpoint]:
    """One moto HTTP server for the whole session (buckets get unique names per test)."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the real server, dropped afterwards."""
    with scratch_postgres_database() as url:
        yield url


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database on the real server, dropped afterwards."""
    with scratch_mariadb_database() as url:
        yield url


@pytest.fixture
def tmp_home(tmp_path: Path) -> Path:
    """An empty folder to use as ``RETENTION_HOME``."""
    home = tmp_path / "home"
    home.mkdir()
    return home
