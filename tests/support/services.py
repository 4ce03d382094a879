"""Real servers the tests talk to, and the rule for when one is missing.

Outside CI a test that needs an absent server skips with a reason that says how to start
it; under ``CI=true`` an absent server is a failure, so a green CI run never hides one.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "RETENTION_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN_URL = os.environ.get(
    "RETENTION_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)


def in_ci() -> bool:
    """True when running under CI, where every server must be present."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int, how_to_start: str) -> None:
    """Skip (outside CI) or fail (under CI) when a server does not answer."""
    if port_open(host, port):
        return
    message = f"{name} does not answer on {host}:{port}; start it with: {how_to_start}"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


def require_postgres() -> None:
    """Make sure the PostgreSQL test server answers (see module docstring)."""
    require_server(
        "PostgreSQL",
        "127.0.0.1",
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    )


def require_mariadb() -> None:
    """Make sure the MariaDB test server answers (see module docstring)."""
    require_server(
        "MariaDB",
        "127.0.0.1",
        3306,
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
    )


def unique_name(prefix: str) -> str:
    """A name no other test run uses, for databases, schemas and buckets."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its SQLAlchemy URL, drop it after."""
    import sqlalchemy as sa

    require_postgres()
    name = unique_name("rp")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def scratch_mariadb_database() -> Iterator[str]:
    """Create an empty MariaDB database, yield its SQLAlchemy URL, drop it after."""
    import sqlalchemy as sa

    require_mariadb()
    name = unique_name("rp")
    admin = sa.create_engine(MARIADB_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}?charset=utf8mb4"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
