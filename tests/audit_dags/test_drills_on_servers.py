"""Restore drills from PostgreSQL and MariaDB sources: a scratch database on the same server.

The drill task is called directly (the Airflow wiring is covered with SQLite sources in
``test_verify_backups``); the sources are real servers, filled with the shared test CRM.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline import audit_tasks, bootstrap
from retention_pipeline.services.restore import RecoveryPointCorruptError
from tests.audit_dags.conftest import checks
from tests.dags.conftest import RetentionHome, build_home
from tests.support.crm import create_crm_schema, fill_crm


@pytest.fixture(params=["postgres_url", "mariadb_url"])
def source_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A filled CRM database on a real PostgreSQL or MariaDB server."""
    url: str = request.getfixturevalue(request.param)
    create_crm_schema(url)
    fill_crm(url, contacts=40, seed=7)
    yield url


def drill_databases(url: str) -> set[str]:
    """The scratch databases that exist on the source's server."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                rows = connection.execute(sa.text("SELECT datname FROM pg_database"))
            else:
                rows = connection.execute(sa.text("SHOW DATABASES"))
            return {r[0] for r in rows if str(r[0]).startswith("rp_drill_")}
    finally:
        engine.dispose()


@pytest.fixture
def server_home(tmp_path: Path, source_url: str, monkeypatch: pytest.MonkeyPatch) -> RetentionHome:
    """A home whose client ``acme-sas`` is backed up from the server database."""
    home = build_home(tmp_path)
    for name, value in {**home.env, "DAGTEST_CRM_A": source_url}.items():
        monkeypatch.setenv(name, value)
    bootstrap.load_installation(home.path).backup_service().backup("acme-sas")
    return home


def test_a_drill_restores_into_a_scratch_database_on_the_source_server_and_drops_it(
    server_home: RetentionHome, source_url: str
) -> None:
    before = drill_databases(source_url)
    now = bootstrap.utc_now() + timedelta(minutes=1)
    outcome = audit_tasks.restore_drill("acme-sas", now, home=str(server_home.path))
    assert outcome["tables"] > 0
    (drill,) = [c for c in checks(server_home, "acme-sas") if c.kind == "restore_drill"]
    assert drill.result == "passed" and drill.details["rows"] > 0
    assert drill_databases(source_url) == before


def test_a_failed_drill_is_recorded_and_still_drops_its_scratch_database(
    server_home: RetentionHome, source_url: str
) -> None:
    catalog = bootstrap.load_installation(server_home.path).catalog
    (rp,) = catalog.list_recovery_points("acme-sas", statuses=["complete"])
    stored = server_home.path / "stores" / "backups" / rp.key
    data = bytearray(stored.read_bytes())
    data[-100] ^= 0x01
    stored.write_bytes(bytes(data))
    before = drill_databases(source_url)

    with pytest.raises(RecoveryPointCorruptError):
        audit_tasks.restore_drill("acme-sas", bootstrap.utc_now(), home=str(server_home.path))
    (drill,) = [c for c in checks(server_home, "acme-sas") if c.kind == "restore_drill"]
    assert drill.result == "failed" and drill.details["error"] == "RecoveryPointCorruptError"
    assert drill_databases(source_url) == before
    assert audit_tasks.drill_clients(bootstrap.utc_now(), 90, home=str(server_home.path)) == [
        "acme-sas"
    ]  # a failed drill is due again
