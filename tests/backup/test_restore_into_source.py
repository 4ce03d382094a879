"""A restore never lands on a client's live source database by accident.

``restore RP --to URL --force`` with the URL of a configured source (``connections:``)
would replace the client's live CRM with an older copy. It is refused, exit 3, before
anything is downloaded or written, however the URL is spelled, unless ``--into-source``
names that very connection. The refusal names the connection, never the URL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa

from retention_pipeline.adapters.dumpers import same_database
from tests.backup.conftest import URL_ENV, BackupHome
from tests.support.crm import TABLES, insert_company, table_rows

Databases = Callable[..., AbstractContextManager[str]]


def spellings(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Other ways an operator may write the same database as ``url``."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        link = tmp_path / "link-to-crm.sqlite"
        link.symlink_to(path)
        monkeypatch.chdir(path.parent)
        return [
            url,
            f"sqlite:///{path.parent}/./{path.name}",
            f"sqlite:///{path.name}",  # relative to the current folder, as the dumper takes it
            f"sqlite+pysqlite:///{link}",
        ]
    other_host = "localhost" if parsed.host == "127.0.0.1" else "127.0.0.1"
    return [
        url,
        # another driver spelling, another local host name, the default port left out,
        # and a password (which must never be echoed)
        parsed.set(drivername="postgresql", host=other_host, port=None).render_as_string(False),
        parsed.set(drivername="postgres", password="s3cret-pw").render_as_string(False),
    ]


@pytest.mark.parametrize("engine", ["postgresql", "sqlite"])
def test_a_restore_into_a_configured_source_needs_that_connection_named(
    engine: str,
    home: BackupHome,
    databases: Databases,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with databases(engine) as source, databases(engine, contacts=3, seed=5) as other:
        monkeypatch.setenv(URL_ENV["crm_a"], source)
        monkeypatch.setenv(URL_ENV["crm_b"], other)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")
        backed_up = {t: table_rows(source, t) for t in TABLES}
        insert_company(source, "after the backup")  # what a restore there would lose
        live = {t: table_rows(source, t) for t in TABLES}
        # the object is put aside: a restore that downloaded before refusing would fail
        # with "missing" (exit 1) instead of the refusal
        stored = home.folder_path(rp.key)
        aside = tmp_path / "aside"
        shutil.move(stored, aside)

        for target in spellings(source, tmp_path, monkeypatch):
            run = home.cli("restore", rp.id, "--to", target, "--force")
            assert run.rc == 3, run.err
            assert "source connection 'crm_a'" in run.err
            assert "--into-source crm_a" in run.err
            assert "s3cret-pw" not in run.out + run.err and "Traceback" not in run.err

            run = home.cli("restore", rp.id, "--to", target, "--force", "--into-source", "crm_b")
            assert run.rc == 3, run.err
            assert "--into-source crm_b: --to is not that connection's database" in run.err
            assert "connection 'crm_a'" in run.err
        assert {t: table_rows(source, t) for t in TABLES} == live
        assert {t: table_rows(other, t) for t in TABLES} != live

        # a flag that vouches for a connection the target is not: refused too
        with databases(engine, filled=False) as scratch:
            run = home.cli("restore", rp.id, "--to", scratch, "--into-source", "crm_a")
            assert run.rc == 3, run.err
            assert "it is no configured connection's database" in run.err

        shutil.move(aside, stored)
        run = home.cli("restore", rp.id, "--to", source, "--force", "--into-source", "crm_a")
        assert run.rc == 0, run.err
        assert "verification: OK" in run.out
        assert {t: table_rows(source, t) for t in TABLES} == backed_up


def test_a_restore_elsewhere_reads_only_the_connections_it_can(
    home: BackupHome, databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's shell need not hold every client's URL to restore into a new database.

    But the connection that ``--into-source`` vouches for must be readable, or the target
    cannot be confirmed as it.
    """
    with databases("sqlite") as source, databases("sqlite", filled=False) as target:
        monkeypatch.setenv(URL_ENV["crm_a"], source)
        home.policy("acme-sas")
        rp = home.back_up("acme-sas")
        monkeypatch.delenv(URL_ENV["crm_a"])
        monkeypatch.delenv(URL_ENV["crm_b"], raising=False)
        run = home.cli("restore", rp.id, "--to", target, "--into-source", "crm_b")
        assert run.rc == 2, run.err
        assert "connection 'crm_b': environment variable BT_CRM_B_URL is not set" in run.err
        run = home.cli("restore", rp.id, "--to", target, "--into-source", "no_such")
        assert run.rc == 2, run.err
        assert "connections.no_such: no such connection" in run.err
        assert sa.inspect(sa.create_engine(target)).get_table_names() == []

        run = home.cli("restore", rp.id, "--to", target)
        assert run.rc == 0, run.err
        assert "verification: OK" in run.out


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("mysql+pymysql://u:p@127.0.0.1/crm", "mariadb://v@localhost:3306/crm", True),
        ("mysql://u@db.example/crm", "mysql://u@db.example:3307/crm", False),
        ("postgresql://u@/crm?host=/var/run/postgresql", "postgresql://u@localhost/crm", True),
        ("postgresql://u@localhost/crm", "postgresql://u@localhost/crm_test", False),
        ("postgresql://u@localhost/crm", "mysql://u@localhost/crm", False),
        ("postgresql://crm@localhost", "postgresql://other@localhost/crm", True),
        ("sqlite:///:memory:", "sqlite:///:memory:", False),
        ("not a url", "not a url", False),
    ],
)
def test_database_urls_are_compared_by_what_they_reach(one: str, other: str, same: bool) -> None:
    assert same_database(one, other) is same
    assert same_database(other, one) is same


def test_sqlite_files_are_compared_by_the_file(tmp_path: Path) -> None:
    first = tmp_path / "crm.sqlite"
    first.write_bytes(b"")
    os.link(first, tmp_path / "hard-link.sqlite")
    assert same_database(f"sqlite:///{first}", f"sqlite:///{tmp_path}/hard-link.sqlite")
    assert not same_database(f"sqlite:///{first}", f"sqlite:///{tmp_path}/absent.sqlite")
