"""The schema arrives by itself on first use and matches the models, both ways."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from retention_pipeline.adapters.catalog import downgrade_catalog, migration_head, open_catalog
from retention_pipeline.adapters.catalog.models import Base
from retention_pipeline.errors import ConfigError
from tests.catalog.conftest import at

CATALOG_TABLES = {
    "clients",
    "policy_versions",
    "recovery_points",
    "archive_copies",
    "erasure_requests",
    "certificates",
    "evidence_log",
    "evidence_head",
}


def schema_differences(url: str) -> list[object]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_first_open_migrates_and_second_open_changes_nothing(catalog_url: str) -> None:
    with open_catalog(catalog_url) as first:
        assert first.applied_revisions[-1] == migration_head()
        assert first.applied_revisions == ("0001", "0002", "0003", "0004", "0005")
        first.record_policy_version("acme-sas", {"backup": {"mode": "off"}}, [], "ops", at(0))
    with open_catalog(catalog_url) as second:
        assert second.applied_revisions == ()
        assert [c.client_id for c in second.list_clients()] == ["acme-sas"]


def test_models_and_migrations_agree(catalog_url: str) -> None:
    open_catalog(catalog_url).close()
    assert schema_differences(catalog_url) == []


def test_downgrade_to_base_then_upgrade_again(catalog_url: str) -> None:
    open_catalog(catalog_url).close()
    assert table_names(catalog_url) >= CATALOG_TABLES

    downgrade_catalog(catalog_url, "base")
    assert not CATALOG_TABLES & table_names(catalog_url)

    with open_catalog(catalog_url) as again:
        assert again.applied_revisions == ("0001", "0002", "0003", "0004", "0005")
        # The head row of the evidence chain is back: appends work on the fresh schema.
        assert again.append_evidence("ops", "test.ping", {}, {}, at(1)).seq == 1
    assert schema_differences(catalog_url) == []


def test_one_step_down_drops_client_keys_and_keeps_recovery_points(catalog_url: str) -> None:
    with open_catalog(catalog_url) as catalog:
        catalog.record_policy_version("acme-sas", {"backup": {"mode": "off"}}, [], "ops", at(0))
    downgrade_catalog(catalog_url, "0001")
    names = table_names(catalog_url)
    assert "client_keys" not in names and "recovery_points" in names
    with open_catalog(catalog_url) as again:
        assert again.applied_revisions == ("0002", "0003", "0004", "0005")
        assert [c.client_id for c in again.list_clients()] == ["acme-sas"]
    assert schema_differences(catalog_url) == []


def test_relative_sqlite_path_is_taken_from_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_catalog("sqlite:///state/catalog.db", base_dir=home) as opened:
        assert opened.applied_revisions[-1] == migration_head()
    assert (home / "state" / "catalog.db").is_file()


def test_catalog_from_a_newer_release_is_refused(catalog_url: str) -> None:
    open_catalog(catalog_url).close()
    engine = sa.create_engine(catalog_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(ConfigError, match=r"revision '9999'.*install the newer version"):
        open_catalog(catalog_url)


def test_bad_urls_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="in-memory"):
        open_catalog("sqlite://")
    with pytest.raises(ConfigError, match="not a database URL"):
        open_catalog("not a url", base_dir=tmp_path)


def test_an_unreachable_catalog_is_named_without_its_password() -> None:
    """The URL may come from RETENTION_CATALOG_URL, which retention.yaml's rules (no
    password in the file) do not reach: the message must mask both places it can sit."""
    for url in (
        "postgresql+psycopg://cat:SeCr3tPw@127.0.0.1:9/catalog",
        "postgresql+psycopg://cat@127.0.0.1:9/catalog?password=SeCr3tPw&sslmode=disable",
    ):
        with pytest.raises(ConfigError, match="cannot open it") as refused:
            open_catalog(url).close()
        assert "SeCr3tPw" not in str(refused.value)
        assert "127.0.0.1:9/catalog" in str(refused.value)
